import { createHash } from 'node:crypto';
import type { TenantContext } from '../auth/context.js';
import type { Database, Tx } from '../db/database.js';
import { recordPlatformEvent, recordSecurityEvent } from './audit-log.js';
import { GatewayError } from './errors.js';
import type { AccessPolicy } from './policy/access-policy.js';
import type { VoicePlatform } from './voice-policy.js';

/**
 * The id a voice platform knows a linked person by (Google's agentUserId):
 * stable per user and tenant, the same again after an unlink and a new link,
 * and never the email or our own ids in the clear (a hash of them).
 */
export function voiceUserId(platform: VoicePlatform, tenantId: string, userId: string): string {
  return createHash('sha256').update(`gatehouse/${platform}/${tenantId}/${userId}`).digest('base64url').slice(0, 32);
}

/**
 * Records the link (seed 003's voice_accounts) inside the caller's transaction,
 * when the platform's account-linking code is exchanged for tokens. Linking
 * again is a no-op.
 */
export async function recordVoiceLink(tx: Tx, link: { platform: VoicePlatform; tenantId: string; userId: string }): Promise<string> {
  const id = voiceUserId(link.platform, link.tenantId, link.userId);
  await tx.query(
    `INSERT INTO voice_accounts (tenant_id, user_id, provider, provider_user_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (provider, provider_user_id) DO NOTHING`,
    [link.tenantId, link.userId, link.platform, id],
  );
  return id;
}

/** What a voice adapter records of each intent it served (the VOICE_INTENT security event). */
export type VoiceIntentRecord = {
  intent: string;
  requestId: string;
  device?: string;
  command?: string;
  /** The request carried a PIN. */
  pinUsed?: boolean;
  /** What the platform was answered (SUCCESS, PENDING, OFFLINE, or the error code). */
  outcome: string;
};

/** Linked voice accounts, as a voice adapter sees them: the platform's caller (a `voice` principal) is the person. */
export class VoiceAccounts {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy) {}

  /** The platform's id for the caller; TOKEN_REVOKED when the link was removed (the platform must link again). */
  async userIdFor(ctx: TenantContext, platform: VoicePlatform): Promise<string> {
    this.policy.check(ctx, 'voice.link');
    const row = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<{ id: string }>('SELECT provider_user_id AS id FROM voice_accounts WHERE provider = $1 AND user_id = $2', [platform, ctx.principal.id])).rows[0]);
    if (!row) throw new GatewayError('TOKEN_REVOKED', `This ${platform} account is no longer linked.`);
    return row.id;
  }

  /** Forgets the link (the platform's unlink, Google's DISCONNECT); the caller revokes the sessions. */
  async unlink(ctx: TenantContext, platform: VoicePlatform, requestId: string): Promise<void> {
    this.policy.check(ctx, 'voice.link');
    await this.db.withTenant(ctx, async (tx) => {
      await tx.query('DELETE FROM voice_accounts WHERE provider = $1 AND user_id = $2', [platform, ctx.principal.id]);
      await recordSecurityEvent(tx, ctx, { type: 'VOICE_INTENT', userId: ctx.principal.id, details: { intent: 'DISCONNECT', requestId, outcome: 'UNLINKED' } });
    });
  }

  /**
   * A platform's request refused before anyone could be known (a bad signature,
   * a replay): the platform's security event, with no tenant, as a failed login is.
   */
  async recordRefusal(platform: VoicePlatform, details: { reason: string; requestId?: string; skillId?: string; sourceIp?: string }): Promise<void> {
    const { sourceIp, ...rest } = details;
    await this.db.withPlatform((tx) => recordPlatformEvent(tx, null, { type: 'VOICE_REQUEST_REFUSED', channel: platform, sourceIp, details: rest }));
  }

  /** One VOICE_INTENT security event per record, in one transaction. */
  async recordIntents(ctx: TenantContext, records: readonly VoiceIntentRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.withTenant(ctx, async (tx) => {
      for (const details of records) await recordSecurityEvent(tx, ctx, { type: 'VOICE_INTENT', userId: ctx.principal.id, details: { ...details } });
    });
  }
}
