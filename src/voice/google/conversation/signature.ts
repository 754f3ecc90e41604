import { createRemoteJWKSet, jwtVerify } from 'jose';

/** Who signs: https://developers.google.com/assistant/conversational/webhooks#verify_the_request */
const ISSUER = 'https://accounts.google.com';

export type SignatureOptions = { projectId?: string; jwksUrl: string };

/**
 * Checks `google-assistant-signature`: a JWT Google signs (RS256, its OAuth2
 * keys) with the Actions project id as audience. @assistant/conversation's own
 * check fetches Google's PEM certificates from a fixed URL through
 * google-auth-library and takes no other keys, so this verifies with jose
 * against a configurable JWKS (Google's by default) instead. Without a
 * project id nothing passes.
 */
export function signatureVerifier({ projectId, jwksUrl }: SignatureOptions): (token: unknown) => Promise<boolean> {
  const keys = createRemoteJWKSet(new URL(jwksUrl));
  return async (token) => {
    if (!projectId || typeof token !== 'string') return false;
    try {
      await jwtVerify(token, keys, { issuer: ISSUER, audience: projectId, algorithms: ['RS256'] });
      return true;
    } catch {
      return false;
    }
  };
}
