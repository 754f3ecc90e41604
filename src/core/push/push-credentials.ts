import { createHash } from 'node:crypto';
import type { Database } from '../../db/database.js';
import { recordPlatformEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { TenantContext } from '../../auth/context.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { seal, unseal, type Keyring } from './credential-keyring.js';

export type ApnsCredentialInput = { provider: 'apns'; signingKey: string; keyId: string; teamId: string; topic: string };
export type ServiceAccount = { project_id: string; client_email: string; private_key: string; private_key_id?: string; token_uri: string };
export type FcmCredentialInput = { provider: 'fcm'; serviceAccount: ServiceAccount };
export type CredentialInput = ApnsCredentialInput | FcmCredentialInput;
/** What anyone but a sender may see of a credential: never the secret, only its fingerprint. */
export type CredentialSummary = { id: string; tenantId: string | null; provider: 'apns' | 'fcm'; settings: Record<string, string>; fingerprint: string; createdAt: Date };
/** A credential opened for a sender. */
export type OpenedCredential = { id: string; fingerprint: string } & CredentialInput;

const PEM_KEY = /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----[\s\S]+-----END (?:EC |RSA )?PRIVATE KEY-----/;

function parts(input: CredentialInput): { settings: Record<string, string>; secret: string } {
  if (input.provider === 'apns') {
    if (!PEM_KEY.test(input.signingKey)) throw new GatewayError('VALIDATION_FAILED', 'The APNs key must be the PEM contents of an AuthKey_….p8 file.');
    for (const [name, value] of Object.entries({ keyId: input.keyId, teamId: input.teamId })) {
      if (!/^[A-Z0-9]{10}$/.test(value)) throw new GatewayError('VALIDATION_FAILED', `The APNs ${name} is 10 letters and digits, as Apple shows it.`);
    }
    if (!/^[A-Za-z0-9.-]+$/.test(input.topic)) throw new GatewayError('VALIDATION_FAILED', 'The APNs topic is the app\'s bundle id, e.g. com.acme.app.');
    return { settings: { keyId: input.keyId, teamId: input.teamId, topic: input.topic }, secret: input.signingKey };
  }
  return serviceAccountParts(input.serviceAccount, 'FCM');
}

/** A Google service account's JSON key file (FCM, Home Graph): what may be shown, and the secret to seal. */
export function serviceAccountParts(account: ServiceAccount | undefined, what: string): { settings: Record<string, string>; secret: string } {
  if (!account?.project_id || !account.client_email || !PEM_KEY.test(account.private_key ?? '') || !/^https:\/\//.test(account.token_uri ?? '')) {
    throw new GatewayError('VALIDATION_FAILED', `The ${what} service account must be the JSON key file of a service account (project_id, client_email, private_key, token_uri).`);
  }
  return { settings: { projectId: account.project_id, clientEmail: account.client_email, tokenUri: account.token_uri }, secret: JSON.stringify(account) };
}

/** Seals a secret under the keyring's current key, with the fingerprint by which it is shown. */
export function sealSecret(keyring: Keyring, secret: string): { keyId: string; sealed: Buffer; fingerprint: string } {
  return { ...seal(keyring, secret), fingerprint: createHash('sha256').update(secret).digest('hex').slice(0, 16) };
}

/**
 * Provider credentials per tenant, and one platform-wide default per provider
 * for single-app deployments: sealed at rest (credential-keyring.ts), never
 * logged, never returned but as a fingerprint. Written by the operator; read
 * by the push workers, both as the platform.
 */
export class PushCredentials {
  constructor(private readonly db: Database, private readonly keyring: Keyring, private readonly policy: AccessPolicy) {}

  /** What a tenant's admins may see: per provider, the credential in use (the tenant's own, else the platform's), by fingerprint. */
  async inUse(ctx: TenantContext): Promise<(CredentialSummary & { source: 'tenant' | 'platform' })[]> {
    this.policy.check(ctx, 'notifications.rules.manage');
    const rows = await this.db.withPlatform(async (tx) => (await tx.query<CredentialSummary>(
      `SELECT DISTINCT ON (provider) id, tenant_id AS "tenantId", provider, settings, fingerprint, created_at AS "createdAt"
         FROM push_credentials WHERE tenant_id = $1 OR tenant_id IS NULL ORDER BY provider, tenant_id NULLS LAST`, [ctx.tenantId])).rows);
    return rows.map((row) => ({ ...row, source: row.tenantId ? 'tenant' : 'platform' }));
  }

  /**
   * The provider refused a tenant's credential: audited, and so its admins are told (the outbox tells them of
   * this event whatever their rules say: in their history, and on any platform that still works).
   */
  async refused(tenantId: string, provider: 'apns' | 'fcm', reason: string): Promise<void> {
    await this.db.withPlatform((tx) => recordPlatformEvent(tx, tenantId, { type: 'PUSH_CREDENTIAL_REFUSED', details: { provider, reason } }));
  }

  /** Sets (replaces) a tenant's credential for its provider; `tenantId` null: the platform-wide default. */
  async set(tenantId: string | null, input: CredentialInput): Promise<CredentialSummary> {
    const { settings, secret } = parts(input);
    const { keyId, sealed, fingerprint } = sealSecret(this.keyring, secret);
    return this.db.withPlatform(async (tx) => {
      await tx.query(`DELETE FROM push_credentials WHERE tenant_id IS NOT DISTINCT FROM $1 AND provider = $2`, [tenantId, input.provider]);
      const { rows } = await tx.query<CredentialSummary>(
        `INSERT INTO push_credentials (tenant_id, provider, settings, sealed, key_id, fingerprint) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, tenant_id AS "tenantId", provider, settings, fingerprint, created_at AS "createdAt"`,
        [tenantId, input.provider, JSON.stringify(settings), sealed, keyId, fingerprint],
      );
      await recordPlatformEvent(tx, tenantId, { type: 'PUSH_CREDENTIAL_SET', details: { provider: input.provider, fingerprint, ...settings } });
      return rows[0]!;
    });
  }

  async list(tenantId: string | null): Promise<CredentialSummary[]> {
    return this.db.withPlatform(async (tx) => (await tx.query<CredentialSummary>(
      `SELECT id, tenant_id AS "tenantId", provider, settings, fingerprint, created_at AS "createdAt" FROM push_credentials
        WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY provider`, [tenantId])).rows);
  }

  /** The tenant's own credential for the provider, else the platform's; undefined when neither exists. */
  async open(tenantId: string, provider: 'apns' | 'fcm'): Promise<OpenedCredential | undefined> {
    const row = await this.db.withPlatform(async (tx) => (await tx.query<{ id: string; settings: Record<string, string>; sealed: Buffer; key_id: string; fingerprint: string }>(
      `SELECT id, settings, sealed, key_id, fingerprint FROM push_credentials WHERE (tenant_id = $1 OR tenant_id IS NULL) AND provider = $2
        ORDER BY tenant_id NULLS LAST LIMIT 1`, [tenantId, provider])).rows[0]);
    if (!row) return undefined;
    const secret = unseal(this.keyring, row.key_id, row.sealed);
    const { id, fingerprint, settings } = row;
    return provider === 'apns'
      ? { id, fingerprint, provider, signingKey: secret, keyId: settings.keyId!, teamId: settings.teamId!, topic: settings.topic! }
      : { id, fingerprint, provider, serviceAccount: JSON.parse(secret) as FcmCredentialInput['serviceAccount'] };
  }
}
