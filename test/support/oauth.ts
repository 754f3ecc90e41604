import { createHash, randomBytes } from 'node:crypto';

export const ALEXA_VENDOR = 'M2TESTVENDOR';
export const ALEXA_REDIRECT = `https://pitangui.amazon.com/api/skill/link/${ALEXA_VENDOR}`;

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(base: string, params: Record<string, string | undefined>): string {
  const url = new URL('/oauth/authorize', base);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

/** The token endpoint as Alexa calls it: form-encoded, client credentials in HTTP Basic. */
export async function tokenRequest(
  base: string,
  client: { id: string; secret: string },
  form: Record<string, string>,
  how: 'basic' | 'body' = 'basic',
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const fields = { ...form };
  if (how === 'basic') headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  else Object.assign(fields, { client_id: client.id, client_secret: client.secret });
  const response = await fetch(`${base}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams(fields).toString() });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

/**
 * Account linking as a voice platform does it: the person signs in and allows
 * at /oauth/authorize (PKCE), the platform exchanges the code; the access token.
 */
export async function linkVoiceAccount(base: string, client: { clientId: string; clientSecret: string }, person: { email: string; password: string }, redirectUri = ALEXA_REDIRECT): Promise<string> {
  const { verifier, challenge } = pkcePair();
  const authorize = await fetch(`${base}/oauth/authorize`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ response_type: 'code', client_id: client.clientId, redirect_uri: redirectUri, state: 's', code_challenge: challenge, code_challenge_method: 'S256', ...person, action: 'allow' }).toString(),
  });
  if (authorize.status !== 302) throw new Error(`authorize answered ${authorize.status}`);
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  const exchanged = await tokenRequest(base, { id: client.clientId, secret: client.clientSecret }, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
  if (exchanged.status !== 200) throw new Error(`token answered ${exchanged.status}`);
  return exchanged.body.access_token as string;
}
