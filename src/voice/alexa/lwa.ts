import type { GrantTokens } from '../../core/alexa-grants.js';

/** A skill's Login with Amazon client (the developer console's "Alexa Skill Messaging" client id and secret). */
export type LwaClient = { clientId: string; clientSecret: string };
export type LwaGrant = { grant_type: 'authorization_code'; code: string } | { grant_type: 'refresh_token'; refresh_token: string };

/** Amazon refused the code or the refresh token (`invalid_grant`, `invalid_client`, …): asking again will not help. */
export class LwaRefused extends Error {
  constructor(readonly error: string, description: string) {
    super(`Login with Amazon refused the grant: ${error}${description ? ` (${description})` : ''}`);
    this.name = 'LwaRefused';
  }
}

const TIMEOUT_MS = 5_000;

/**
 * Tokens from Login with Amazon's token endpoint
 * (https://developer.amazon.com/docs/login-with-amazon/authorization-code-grant.html#access-token-request):
 * the client authenticates in the form body, as Amazon's AcceptGrant guide
 * shows. A 4xx with an OAuth `error` is LwaRefused; anything else (a network
 * failure, a 5xx) is thrown as it is, to be tried again.
 */
export async function lwaTokens(url: string, client: LwaClient, grant: LwaGrant, now = Date.now()): Promise<GrantTokens> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', accept: 'application/json' },
    body: new URLSearchParams({ ...grant, client_id: client.clientId, client_secret: client.clientSecret }).toString(),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; refresh_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  if (response.status >= 400 && response.status < 500 && typeof body.error === 'string') {
    throw new LwaRefused(body.error, typeof body.error_description === 'string' ? body.error_description : '');
  }
  if (!response.ok || typeof body.access_token !== 'string' || typeof body.expires_in !== 'number') {
    throw new Error(`Login with Amazon answered ${response.status} without tokens.`);
  }
  // A refresh may not return a new refresh token: then the one we hold stays valid.
  const refreshToken = typeof body.refresh_token === 'string' ? body.refresh_token : grant.grant_type === 'refresh_token' ? grant.refresh_token : undefined;
  if (!refreshToken) throw new Error('Login with Amazon answered an authorization code without a refresh token.');
  return { accessToken: body.access_token, refreshToken, expiresAt: new Date(now + body.expires_in * 1000) };
}
