import { pkcePair, tokenRequest } from '../../support/oauth.js';

export const GOOGLE_PROJECT = 'gatehouse-test';
export const GOOGLE_REDIRECT = `https://oauth-redirect.googleusercontent.com/r/${GOOGLE_PROJECT}`;

/** Account linking as Google does it, without a browser: the consent form posted, the code exchanged with PKCE. */
export async function linkGoogle(base: string, client: { id: string; secret: string }, email: string, password: string): Promise<{ access: string; refresh: string }> {
  const { verifier, challenge } = pkcePair();
  const form = {
    response_type: 'code', client_id: client.id, redirect_uri: GOOGLE_REDIRECT, state: 'google-state', code_challenge: challenge, code_challenge_method: 'S256',
    email, password, action: 'allow',
  };
  const consent = await fetch(`${base}/oauth/authorize`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(),
  });
  if (consent.status !== 302) throw new Error(`consent answered ${consent.status}: ${await consent.text()}`);
  const code = new URL(consent.headers.get('location')!).searchParams.get('code')!;
  const tokens = await tokenRequest(base, client, { grant_type: 'authorization_code', code, redirect_uri: GOOGLE_REDIRECT, code_verifier: verifier });
  if (tokens.status !== 200) throw new Error(`token exchange answered ${tokens.status}: ${JSON.stringify(tokens.body)}`);
  return { access: tokens.body.access_token as string, refresh: tokens.body.refresh_token as string };
}
