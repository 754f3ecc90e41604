import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import type { Database } from '../../db/database.js';
import type { FailureLimits } from '../failure-limiter.js';
import { generateSecret, hashSecret, verifyAgainstNothing, verifySecret } from '../secrets.js';

export type VoicePlatform = 'alexa' | 'google';
export const PLATFORM_NAMES: Record<VoicePlatform, string> = { alexa: 'Amazon Alexa', google: 'Google Assistant' };

export type OAuthClient = { clientId: string; platform: VoicePlatform; name: string; redirectUris: string[] };

/**
 * The redirect URIs each platform uses for account linking, by vendor id
 * (Alexa: https://developer.amazon.com/en-US/docs/alexa/account-linking/configure-authorization-code-grant.html)
 * or project id (Google: https://developers.google.com/assistant/identity/oauth2).
 */
export function platformRedirectUris(platform: VoicePlatform, id: string): string[] {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(id)) throw new GatewayError('VALIDATION_FAILED', `"${id}" is not a vendor or project id.`);
  return platform === 'alexa'
    ? [`https://pitangui.amazon.com/api/skill/link/${id}`, `https://layla.amazon.com/api/skill/link/${id}`, `https://alexa.amazon.co.jp/api/skill/link/${id}`]
    : [`https://oauth-redirect.googleusercontent.com/r/${id}`, `https://oauth-redirect-sandbox.googleusercontent.com/r/${id}`];
}

/** HTTPS only, except loopback for development; no fragment (RFC 6749 §3.1.2). */
function assertRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new GatewayError('VALIDATION_FAILED', `Redirect URI "${uri}" is not a URL.`);
  }
  const loopback = url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if ((url.protocol !== 'https:' && !loopback) || url.hash) {
    throw new GatewayError('VALIDATION_FAILED', `Redirect URI "${uri}" must be https (or http on loopback) and have no fragment.`);
  }
}

export class OAuthClients {
  constructor(private readonly db: Database, private readonly limiter: FailureLimits) {}

  /** Registers a client (a platform operation); its secret is shown once. */
  async create(input: { platform: VoicePlatform; name?: string; redirectUris: string[] }): Promise<OAuthClient & { clientSecret: string }> {
    if (input.redirectUris.length === 0) throw new GatewayError('VALIDATION_FAILED', 'At least one redirect URI is needed (--redirect-uri, --vendor-id or --project-id).');
    input.redirectUris.forEach(assertRedirectUri);
    const clientId = `${input.platform}-${randomBytes(9).toString('base64url')}`;
    const clientSecret = generateSecret('gs');
    const name = input.name ?? PLATFORM_NAMES[input.platform];
    const redirectUris = [...new Set(input.redirectUris)];
    const secretHash = await hashSecret(clientSecret);
    await this.db.withPlatform((tx) =>
      tx.query('INSERT INTO oauth_clients (client_id, secret_hash, platform, name, redirect_uris) VALUES ($1, $2, $3, $4, $5)', [
        clientId, secretHash, input.platform, name, redirectUris,
      ]),
    );
    return { clientId, clientSecret, platform: input.platform, name, redirectUris };
  }

  async find(clientId: string): Promise<OAuthClient | undefined> {
    const { rows } = await this.db.withPlatform((tx) =>
      tx.query<OAuthClient>(`SELECT client_id AS "clientId", platform, name, redirect_uris AS "redirectUris" FROM oauth_clients WHERE client_id = $1`, [clientId]),
    );
    return rows[0];
  }

  /** Client authentication at the token endpoint (HTTP Basic or body), rate-limited per client and address. */
  async authenticate(clientId: string, clientSecret: string, ip?: string): Promise<OAuthClient> {
    const keys = [`client:${clientId}`, ...(ip ? [`ip:${ip}`] : [])];
    await this.limiter.assertAllowed(keys);
    const { rows } = await this.db.withPlatform((tx) =>
      tx.query<OAuthClient & { secretHash: string }>(
        `SELECT client_id AS "clientId", platform, name, redirect_uris AS "redirectUris", secret_hash AS "secretHash" FROM oauth_clients WHERE client_id = $1`,
        [clientId],
      ),
    );
    const row = rows[0];
    const ok = row ? await verifySecret(row.secretHash, clientSecret) : await verifyAgainstNothing(clientSecret);
    if (!row || !ok) {
      await this.limiter.recordFailure(keys);
      throw new GatewayError('OAUTH_CLIENT_INVALID', 'Client authentication failed.');
    }
    const { secretHash: _secretHash, ...client } = row;
    return client;
  }
}
