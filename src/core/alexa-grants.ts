import type { TenantContext } from '../auth/context.js';
import type { Database } from '../db/database.js';
import { recordSecurityEvent } from './audit-log.js';
import type { AccessPolicy } from './policy/access-policy.js';
import { seal, unseal, type Keyring } from './push/credential-keyring.js';

/** Login with Amazon's tokens for one grant, as the Alexa adapter uses them. */
export type GrantTokens = { accessToken: string; refreshToken: string; expiresAt: Date };

/**
 * Alexa's permission to send events for the caller (AcceptGrant): Login with
 * Amazon tokens per tenant, person and skill, sealed at rest with the
 * credential keyring and opened only for the person they belong to (the
 * caller's context). The adapter speaks to Amazon; this only keeps them.
 */
export class AlexaGrants {
  constructor(private readonly db: Database, private readonly keyring: Keyring, private readonly policy: AccessPolicy) {}

  /** Keeps (or replaces) the caller's grant for `skillId`; `sessionId` is the Gatehouse session Alexa's link holds. */
  async accept(ctx: TenantContext, skillId: string, sessionId: string, tokens: GrantTokens): Promise<void> {
    this.policy.check(ctx, 'voice.link');
    const { keyId, sealed } = this.sealed(tokens);
    await this.db.withTenant(ctx, async (tx) => {
      await tx.query(
        `INSERT INTO alexa_grants (tenant_id, user_id, skill_id, session_id, sealed, key_id, access_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, user_id, skill_id) DO UPDATE SET session_id = EXCLUDED.session_id, sealed = EXCLUDED.sealed, key_id = EXCLUDED.key_id,
           access_expires_at = EXCLUDED.access_expires_at, updated_at = now()`,
        [ctx.tenantId, ctx.principal.id, skillId, sessionId, sealed, keyId, tokens.expiresAt],
      );
      await recordSecurityEvent(tx, ctx, { type: 'VOICE_GRANT_ACCEPTED', userId: ctx.principal.id, details: { platform: 'alexa', skillId } });
    });
  }

  /** The caller's grant for `skillId`, opened; undefined when there is none. */
  async open(ctx: TenantContext, skillId: string): Promise<GrantTokens | undefined> {
    this.policy.check(ctx, 'voice.link');
    const row = await this.db.withTenant(ctx, async (tx) => (await tx.query<{ sealed: Buffer; key_id: string }>(
      'SELECT sealed, key_id FROM alexa_grants WHERE user_id = $1 AND skill_id = $2', [ctx.principal.id, skillId])).rows[0]);
    if (!row) return undefined;
    const opened = JSON.parse(unseal(this.keyring, row.key_id, row.sealed)) as { accessToken: string; refreshToken: string; expiresAt: string };
    return { ...opened, expiresAt: new Date(opened.expiresAt) };
  }

  /** New tokens after a refresh (Amazon may rotate the refresh token too). */
  async refreshed(ctx: TenantContext, skillId: string, tokens: GrantTokens): Promise<void> {
    this.policy.check(ctx, 'voice.link');
    const { keyId, sealed } = this.sealed(tokens);
    await this.db.withTenant(ctx, (tx) => tx.query(
      'UPDATE alexa_grants SET sealed = $3, key_id = $4, access_expires_at = $5, updated_at = now() WHERE user_id = $1 AND skill_id = $2',
      [ctx.principal.id, skillId, sealed, keyId, tokens.expiresAt]));
  }

  /** Forgets the grant (Amazon answered that the skill is disabled, or refused its refresh token), audited with why. */
  async drop(ctx: TenantContext, skillId: string, reason: string): Promise<void> {
    this.policy.check(ctx, 'voice.link');
    await this.db.withTenant(ctx, async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM alexa_grants WHERE user_id = $1 AND skill_id = $2', [ctx.principal.id, skillId]);
      if (rowCount) await recordSecurityEvent(tx, ctx, { type: 'VOICE_GRANT_DROPPED', userId: ctx.principal.id, details: { platform: 'alexa', skillId, reason } });
    });
  }

  private sealed(tokens: GrantTokens) {
    return seal(this.keyring, JSON.stringify({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt.toISOString() }));
  }
}
