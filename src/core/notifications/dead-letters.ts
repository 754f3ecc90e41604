import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';

export type DeadLetter = { id: string; notificationId: string; type: string; userId: string; platform: string; attempts: number; lastReason: string | null; createdAt: Date };

/** Deliveries the providers refused for good, or that ran out of attempts: admins list them and send them again. */
export class DeadLetters {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly events: EventBus) {}

  async list(ctx: TenantContext, limit = 100): Promise<DeadLetter[]> {
    this.policy.check(ctx, 'notifications.rules.manage');
    return this.db.withTenant(ctx, async (tx) => (await tx.query<DeadLetter>(
      `SELECT d.id, d.notification_id AS "notificationId", n.type, n.user_id AS "userId", t.platform, d.attempts, d.last_reason AS "lastReason", d.created_at AS "createdAt"
         FROM push_deliveries d JOIN notifications n ON n.id = d.notification_id JOIN push_tokens t ON t.id = d.token_id
        WHERE d.state = 'dead' ORDER BY d.created_at DESC LIMIT $1`,
      [Math.min(Math.max(limit, 1), 500)],
    )).rows);
  }

  /** Queues a dead letter again with a fresh count of attempts (a fixed credential, a provider back from an outage). */
  async retry(ctx: TenantContext, id: string): Promise<void> {
    this.policy.check(ctx, 'notifications.rules.manage');
    const retried = /^[0-9a-f-]{36}$/i.test(id) && await this.db.withTenant(ctx, async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE push_deliveries d SET state = 'queued', attempts = 0, next_attempt_at = now(), last_reason = NULL
           FROM push_tokens t WHERE d.id = $1 AND d.state = 'dead' AND t.id = d.token_id AND t.invalidated_at IS NULL`, [id]);
      if (!rowCount) return false;
      await recordSecurityEvent(tx, ctx, { type: 'PUSH_DEAD_LETTER_RETRIED', details: { deliveryId: id } });
      tx.afterCommit(() => this.events.emit('notification.queued', { tenantId: ctx.tenantId, deliveries: 1 }));
      return true;
    });
    if (!retried) throw new GatewayError('NOT_FOUND', 'Not found, or no access (or its token is no longer valid).');
  }
}
