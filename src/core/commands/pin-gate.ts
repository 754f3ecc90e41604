import type { TenantContext } from '../../auth/context.js';
import { verifySecret } from '../../auth/secrets.js';
import type { Database } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';

export const PIN_MAX_FAILURES = 5;
export const PIN_LOCK_MINUTES = 15;

/**
 * The voice PIN (argon2id) that sensitive capabilities require, with lockout
 * after repeated failures and a security event each time.
 */
export class PinGate {
  constructor(private readonly db: Database) {}

  async verify(ctx: TenantContext, pin: string | undefined, capability: string): Promise<void> {
    if (ctx.principal.kind !== 'user' && ctx.principal.kind !== 'voice') {
      throw new GatewayError('PIN_REQUIRED', `"${capability}" needs a person's voice PIN; this caller has none.`);
    }
    if (!pin) throw new GatewayError('PIN_REQUIRED', `"${capability}" requires your voice PIN.`, { capability });
    const row = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<{ pin_hash: string; failed_attempts: number; locked_until: Date | null }>(
        'SELECT pin_hash, failed_attempts, locked_until FROM voice_pins WHERE user_id = $1 FOR UPDATE', [ctx.principal.id],
      )).rows[0],
    );
    if (!row) throw new GatewayError('PIN_REQUIRED', 'Set a voice PIN first; this capability requires it.', { capability });
    if (row.locked_until && row.locked_until.getTime() > Date.now()) {
      throw new GatewayError('PIN_LOCKED', 'Too many wrong PINs; try again later.', { lockedUntil: row.locked_until.toISOString() });
    }
    const ok = await verifySecret(row.pin_hash, pin);
    await this.db.withTenant(ctx, async (tx) => {
      if (ok) {
        await tx.query('UPDATE voice_pins SET failed_attempts = 0, locked_until = NULL WHERE user_id = $1', [ctx.principal.id]);
        return;
      }
      const { rows } = await tx.query<{ failed_attempts: number }>(
        `UPDATE voice_pins SET failed_attempts = failed_attempts + 1,
                locked_until = CASE WHEN failed_attempts + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END
          WHERE user_id = $1 RETURNING failed_attempts`,
        [ctx.principal.id, PIN_MAX_FAILURES, PIN_LOCK_MINUTES],
      );
      const locked = (rows[0]?.failed_attempts ?? 0) >= PIN_MAX_FAILURES;
      await recordSecurityEvent(tx, ctx, { type: locked ? 'PIN_LOCKOUT' : 'PIN_FAILED', details: { capability } });
    });
    if (!ok) throw new GatewayError('PIN_INVALID', 'The voice PIN is wrong.');
  }
}
