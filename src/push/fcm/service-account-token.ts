import https from 'node:https';
import type { Credential, GoogleOAuthAccessToken } from 'firebase-admin/app';
import { importPKCS8, SignJWT } from 'jose';

/** The fields of a Google service account JSON key that sending needs. */
export type ServiceAccount = {
  project_id: string;
  client_email: string;
  private_key: string;
  private_key_id?: string;
  /** Where the JWT assertion is exchanged for an access token (https://oauth2.googleapis.com/token). */
  token_uri: string;
};

export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** Renew this long before the token expires, as firebase-admin does (TOKEN_EXPIRY_THRESHOLD_MILLIS). */
const RENEW_BEFORE_MS = 5 * 60_000;

/** Why no access token: the service account was refused, or the endpoint could not answer. */
export class AccessTokenError extends Error {
  constructor(readonly refused: boolean, message: string) {
    super(message);
    this.name = 'AccessTokenError';
  }
}

/**
 * An OAuth2 access token for FCM from a service account, by the JWT bearer
 * grant (RFC 7523; https://developers.google.com/identity/protocols/oauth2/service-account#httprest):
 * an RS256 assertion signed with the account's key, posted to its token_uri.
 * Ours rather than firebase-admin's so that "refused" (pause the tenant) and
 * "unreachable" (retry later) stay apart; it caches the token and fetches one
 * at a time.
 */
export class ServiceAccountToken implements Credential {
  private cached?: { accessToken: string; expiresAt: number };
  private pending?: Promise<{ accessToken: string; expiresAt: number }>;
  fetches = 0;

  constructor(
    private readonly account: ServiceAccount,
    private readonly agent: https.Agent,
    private readonly now: () => number = Date.now,
  ) {}

  async getAccessToken(): Promise<GoogleOAuthAccessToken> {
    const token = await this.current();
    return { access_token: token.accessToken, expires_in: Math.floor((token.expiresAt - this.now()) / 1000) };
  }

  private async current(): Promise<{ accessToken: string; expiresAt: number }> {
    if (this.cached && this.cached.expiresAt - RENEW_BEFORE_MS > this.now()) return this.cached;
    this.pending ??= this.fetch().finally(() => (this.pending = undefined));
    this.cached = await this.pending;
    return this.cached;
  }

  private async fetch(): Promise<{ accessToken: string; expiresAt: number }> {
    this.fetches++;
    const issuedAt = Math.floor(this.now() / 1000);
    const assertion = await this.sign(issuedAt);
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
    const { status, body } = await post(this.account.token_uri, form, this.agent);
    const parsed = parseJson(body) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    // RFC 6749 §5.2: 400 invalid_grant / 401 invalid_client are the account's fault; the rest may pass.
    if (status === 400 || status === 401 || status === 403) throw new AccessTokenError(true, `token endpoint refused the service account: ${String(parsed?.error ?? status)}`);
    if (status !== 200 || typeof parsed?.access_token !== 'string') throw new AccessTokenError(false, `token endpoint answered ${status}`);
    const lifetime = typeof parsed.expires_in === 'number' ? parsed.expires_in : 3600;
    return { accessToken: parsed.access_token, expiresAt: this.now() + lifetime * 1000 };
  }

  private async sign(issuedAt: number): Promise<string> {
    try {
      const key = await importPKCS8(this.account.private_key, 'RS256');
      return await new SignJWT({ scope: FCM_SCOPE })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(this.account.private_key_id ? { kid: this.account.private_key_id } : {}) })
        .setIssuer(this.account.client_email)
        .setAudience(this.account.token_uri)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + 3600)
        .sign(key);
    } catch (error) {
      throw new AccessTokenError(true, `the service account's private key cannot sign: ${(error as Error).message}`);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function post(url: string, form: string, agent: https.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method: 'POST', agent, timeout: 15_000, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', (error) => reject(new AccessTokenError(false, error.message)));
    });
    request.on('timeout', () => request.destroy(new Error('token endpoint timed out')));
    request.on('error', (error) => reject(new AccessTokenError(false, error.message)));
    request.end(form);
  });
}
