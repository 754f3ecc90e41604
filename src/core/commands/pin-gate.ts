import type { TenantContext } from '../../auth/context.js';
import { verifySecret } from '../../auth/secrets.js';
import type { Database, Tx } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { NotificationOutbox } from '../notifications/notification-outbox.js';

export type PinLimits = { maxFailures: number; lockMinutes: number };
export const DEFAULT_PIN_LIMITS: PinLimits = { maxFailures: 5, lockMinutes: 15 };

type PinRow = { pin_hash: string; failed_attempts: number; locked_until: Date | null };
type Outcome = { ok: true } | { ok: false; locked: boolean; until?: Date };

/**
 * The voice PIN (argon2id) that sensitive capabilities require, with lockout
 * after repeated failures (VOICE_PIN_MAX_FAILURES for VOICE_PIN_LOCK_MINUTES)
 * and a security event each time.
 *
 * Atomic: the row is locked (`FOR UPDATE`) before the argon2 verify and the
 * attempt is counted and the lock decided in that same transaction, so
 * parallel guesses queue on the row and each sees the count the previous one
 * left; no more than maxFailures are ever verified before the lock. It lives in
 * Postgres, so it holds across channels (API, Alexa, Google) and processes.
 */
export class PinGate {
  constructor(private readonly db: Database, private readonly events: EventBus, private readonly outbox: NotificationOutbox, private readonly limits: PinLimits = DEFAULT_PIN_LIMITS) {}

  async verify(ctx: TenantContext, pin: string | undefined, capability: string): Promise<void> {
    if (ctx.principal.kind !== 'user' && ctx.principal.kind !== 'voice') {
      throw new GatewayError('PIN_REQUIRED', `"${capability}" needs a person's voice PIN; this caller has none.`);
    }
    if (!pin) {
      // pinSet tells a voice platform to ask for the PIN (Google pinNeeded) or to say none is set up (challengeFailedNotSetup).
      const pinSet = await this.db.withTenant(ctx, (tx) => PinGate.exists(tx, ctx.principal.id));
      throw new GatewayError('PIN_REQUIRED', `"${capability}" requires your voice PIN.`, { capability, pinSet });
    }
    const outcome = await this.db.withTenant(ctx, (tx) => this.attempt(tx, ctx, ctx.principal.id, pin, { capability }));
    if (outcome.ok) return;
    if (outcome.locked) throw new GatewayError('PIN_LOCKED', 'Too many wrong PINs; try again later.', { lockedUntil: outcome.until?.toISOString() });
    throw new GatewayError('PIN_INVALID', 'The voice PIN is wrong.');
  }

  /** Whether the user has a voice PIN (inside the caller's transaction). */
  static async exists(tx: Tx, userId: string): Promise<boolean> {
    return (await tx.query('SELECT 1 FROM voice_pins WHERE user_id = $1', [userId])).rowCount === 1;
  }

  /**
   * One attempt inside `tx`, which holds the row lock from the SELECT to the
   * commit. Throws PIN_REQUIRED when the user has no PIN and PIN_LOCKED while
   * locked (nothing verified); otherwise answers what the verify found, the
   * count and the lock already written in `tx`.
   */
  async attempt(tx: Tx, ctx: TenantContext, userId: string, pin: string, details: Record<string, unknown>): Promise<Outcome> {
    const row = (await tx.query<PinRow>('SELECT pin_hash, failed_attempts, locked_until FROM voice_pins WHERE user_id = $1 FOR UPDATE', [userId])).rows[0];
    if (!row) throw new GatewayError('PIN_REQUIRED', 'Set a voice PIN first; this capability requires it.', { ...details, pinSet: false });
    const now = (await tx.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    if (row.locked_until && row.locked_until > now) {
      throw new GatewayError('PIN_LOCKED', 'Too many wrong PINs; try again later.', { lockedUntil: row.locked_until.toISOString() });
    }
    if (await verifySecret(row.pin_hash, pin)) {
      if (row.failed_attempts !== 0 || row.locked_until) await tx.query('UPDATE voice_pins SET failed_attempts = 0, locked_until = NULL WHERE user_id = $1', [userId]);
      return { ok: true };
    }
    // A lock that ran out starts a fresh count.
    const failures = (row.locked_until ? 0 : row.failed_attempts) + 1;
    const locked = failures >= this.limits.maxFailures;
    const { rows } = await tx.query<{ locked_until: Date | null }>(
      `UPDATE voice_pins SET failed_attempts = $2, locked_until = CASE WHEN $3 THEN now() + make_interval(mins => $4) ELSE NULL END
        WHERE user_id = $1 RETURNING locked_until`,
      [userId, locked ? 0 : failures, locked, this.limits.lockMinutes],
    );
    await recordSecurityEvent(tx, ctx, { type: locked ? 'PIN_LOCKOUT' : 'PIN_FAILED', userId, details: { ...details, failures } });
    const until = rows[0]?.locked_until ?? undefined;
    if (locked && until) {
      await this.outbox.pinLocked(tx, ctx.tenantId, { userId, until });
      tx.afterCommit(() => this.events.emit('pin.locked', { tenantId: ctx.tenantId, userId, until: until.toISOString() }));
    }
    return { ok: false, locked, until };
  }
}
