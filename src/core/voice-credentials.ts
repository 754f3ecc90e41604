import type { Database } from '../db/database.js';
import { recordPlatformEvent } from './audit-log.js';
import { unseal, type Keyring } from './push/credential-keyring.js';
import { sealSecret, serviceAccountParts, type ServiceAccount } from './push/push-credentials.js';

export type VoiceCredentialSummary = { id: string; tenantId: string | null; provider: 'google'; settings: Record<string, string>; fingerprint: string; createdAt: Date };
export type OpenedVoiceCredential = { id: string; fingerprint: string; serviceAccount: ServiceAccount };

const SUMMARY = 'id, tenant_id AS "tenantId", provider, settings, fingerprint, created_at AS "createdAt"';

/**
 * The Google service accounts state is reported to Home Graph with: one per
 * tenant, and a platform-wide default (tenant null), sealed with the push
 * keyring like FCM's. Set by the operator; opened by the Home Graph reporter.
 */
export class VoiceCredentials {
  constructor(private readonly db: Database, private readonly keyring: Keyring) {}

  async set(tenantId: string | null, serviceAccount: ServiceAccount): Promise<VoiceCredentialSummary> {
    const { settings, secret } = serviceAccountParts(serviceAccount, 'Home Graph');
    const { keyId, sealed, fingerprint } = sealSecret(this.keyring, secret);
    return this.db.withPlatform(async (tx) => {
      await tx.query(`DELETE FROM voice_credentials WHERE tenant_id IS NOT DISTINCT FROM $1 AND provider = 'google'`, [tenantId]);
      const { rows } = await tx.query<VoiceCredentialSummary>(
        `INSERT INTO voice_credentials (tenant_id, provider, settings, sealed, key_id, fingerprint) VALUES ($1, 'google', $2, $3, $4, $5) RETURNING ${SUMMARY}`,
        [tenantId, JSON.stringify(settings), sealed, keyId, fingerprint],
      );
      await recordPlatformEvent(tx, tenantId, { type: 'VOICE_CREDENTIAL_SET', details: { provider: 'google', fingerprint, ...settings } });
      return rows[0]!;
    });
  }

  async list(tenantId: string | null): Promise<VoiceCredentialSummary[]> {
    return this.db.withPlatform(async (tx) => (await tx.query<VoiceCredentialSummary>(
      `SELECT ${SUMMARY} FROM voice_credentials WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY provider`, [tenantId])).rows);
  }

  /** Whether the tenant reports to Home Graph (its own service account or the platform's): SYNC's willReportState. */
  async isSet(tenantId: string): Promise<boolean> {
    return this.db.withPlatform(async (tx) => (await tx.query(
      `SELECT 1 FROM voice_credentials WHERE (tenant_id = $1 OR tenant_id IS NULL) AND provider = 'google' LIMIT 1`, [tenantId])).rows.length > 0);
  }

  /** The tenant's own service account, else the platform's; undefined when neither is set (Home Graph is then not told). */
  async open(tenantId: string): Promise<OpenedVoiceCredential | undefined> {
    const row = await this.db.withPlatform(async (tx) => (await tx.query<{ id: string; sealed: Buffer; key_id: string; fingerprint: string }>(
      `SELECT id, sealed, key_id, fingerprint FROM voice_credentials WHERE (tenant_id = $1 OR tenant_id IS NULL) AND provider = 'google'
        ORDER BY tenant_id NULLS LAST LIMIT 1`, [tenantId])).rows[0]);
    if (!row) return undefined;
    return { id: row.id, fingerprint: row.fingerprint, serviceAccount: JSON.parse(unseal(this.keyring, row.key_id, row.sealed)) as ServiceAccount };
  }
}
