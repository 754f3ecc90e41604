import { recordSecurityEvent } from '../core/audit-log.js';
import type { PinGate } from '../core/commands/pin-gate.js';
import { GatewayError } from '../core/errors.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import type { Database } from '../db/database.js';
import type { TenantContext } from './context.js';
import { hashSecret, verifySecret } from './secrets.js';
import { findUserById } from './user-directory.js';

const PIN = /^\d{4,8}$/;

export type PinProof = { currentPassword?: string; currentPin?: string };

/**
 * Setting, changing and resetting voice PINs (argon2id, per user and tenant).
 * A change is re-authenticated with the current password or the current PIN;
 * a wrong current PIN counts towards the lockout like any other guess.
 */
export class VoicePins {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly gate: PinGate) {}

  async set(ctx: TenantContext, pin: string, proof: PinProof): Promise<void> {
    this.policy.check(ctx, 'voice.pin.manage');
    if (ctx.principal.kind !== 'user') throw new GatewayError('POLICY_DENIED', 'Only a person has a voice PIN.');
    if (!PIN.test(pin)) throw new GatewayError('VALIDATION_FAILED', 'The voice PIN must be 4 to 8 digits.');
    const userId = ctx.principal.id;
    if (proof.currentPassword !== undefined) {
      const user = await this.db.withPlatform((tx) => findUserById(tx, userId));
      if (!user || !(await verifySecret(user.passwordHash, proof.currentPassword))) throw new GatewayError('INVALID_CREDENTIALS', 'The current password is wrong.');
    } else if (proof.currentPin !== undefined) {
      const outcome = await this.db.withTenant(ctx, (tx) => this.gate.attempt(tx, ctx, userId, proof.currentPin!, { action: 'voice-pin change' }));
      if (!outcome.ok) throw new GatewayError(outcome.locked ? 'PIN_LOCKED' : 'INVALID_CREDENTIALS', outcome.locked ? 'Too many wrong PINs; try again later.' : 'The current PIN is wrong.');
    } else {
      throw new GatewayError('VALIDATION_FAILED', 'Send current_password (or current_pin) to set your voice PIN.');
    }
    const hash = await hashSecret(pin);
    await this.db.withTenant(ctx, async (tx) => {
      // A new PIN starts a fresh count, but does not lift a lock: a locked user waits it out or asks an admin.
      await tx.query(
        `INSERT INTO voice_pins (tenant_id, user_id, pin_hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET pin_hash = EXCLUDED.pin_hash, updated_at = now(),
           failed_attempts = CASE WHEN voice_pins.locked_until > now() THEN voice_pins.failed_attempts ELSE 0 END`,
        [ctx.tenantId, userId, hash],
      );
      await recordSecurityEvent(tx, ctx, { type: 'VOICE_PIN_SET', userId, details: { proof: proof.currentPassword !== undefined ? 'password' : 'pin' } });
    });
  }

  /** An admin removes a member's PIN (forgotten, or locked out): they set a new one with their password. */
  async reset(ctx: TenantContext, userId: string): Promise<void> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage', [userId]);
    // Idempotent: a member without a PIN is already reset.
    await this.db.withTenant(ctx, async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM voice_pins WHERE user_id = $1', [userId]);
      await recordSecurityEvent(tx, ctx, { type: 'VOICE_PIN_RESET', userId, details: { hadPin: rowCount === 1 } });
    });
  }

  /**
   * The operator at the command line sets a member's PIN (the server's owner
   * needs no re-authentication; no HTTP caller can reach this).
   */
  async setFor(ctx: TenantContext, member: { userId?: string; email?: string }, pin: string): Promise<string> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage');
    if (ctx.principal.kind !== 'service') throw new GatewayError('POLICY_DENIED', 'Only the operator sets another person\'s voice PIN; members set their own.');
    if (!PIN.test(pin)) throw new GatewayError('VALIDATION_FAILED', 'The voice PIN must be 4 to 8 digits.');
    const hash = await hashSecret(pin);
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ user_id: string }>(
        `SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE ($1::uuid IS NOT NULL AND m.user_id = $1::uuid) OR ($2::text IS NOT NULL AND lower(u.email) = lower($2))`,
        [member.userId && /^[0-9a-f-]{36}$/i.test(member.userId) ? member.userId : null, member.email ?? null],
      );
      const userId = rows[0]?.user_id;
      if (!userId) throw new GatewayError('USER_NOT_FOUND', 'No such member in this tenant.');
      await tx.query(
        `INSERT INTO voice_pins (tenant_id, user_id, pin_hash) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET pin_hash = EXCLUDED.pin_hash, failed_attempts = 0, locked_until = NULL, updated_at = now()`,
        [ctx.tenantId, userId, hash],
      );
      await recordSecurityEvent(tx, ctx, { type: 'VOICE_PIN_SET', userId, details: { by: 'operator' } });
      return userId;
    });
  }
}
