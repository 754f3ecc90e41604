import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import type { NotificationType, Platform, PushEnvironment, SendOutcome } from './push-message.js';

/** A delivery leased to this worker, with what sending it needs. */
export type ClaimedDelivery = {
  id: string;
  tenantId: string;
  /** The claim's id (push_deliveries.lease_id): the lease's fencing token. */
  lease: string;
  attempts: number;
  token: { id: string; token: string; platform: Platform; environment: PushEnvironment; locale: string | null; registeredAt: Date };
  notification: { id: string; type: NotificationType; critical: boolean; data: Record<string, string>; createdAt: Date };
};

export type DepthState = 'queued' | 'leased' | 'dead';

/** What became of one attempt, as the queue records it; `lease` is the claim it was sent under. */
export type Settlement = { id: string; lease: string } & (
  | { id: string; state: 'sent' }
  | { id: string; state: 'queued'; retryInMs: number; reason: string; countAttempt: boolean }
  | { id: string; state: 'dead' | 'dropped'; reason: string }
  | { id: string; state: 'dropped'; reason: string; invalidateToken: { tokenId: string; reason: string } }
);

/**
 * The deliveries table as a queue, across tenants (the workers run as the
 * platform; every statement names its tenant). A claim takes up to
 * `perTenant` due deliveries of every tenant whose lane is open, oldest first,
 * with FOR UPDATE SKIP LOCKED, so several workers in several processes never
 * take the same one and one tenant's burst or throttled provider holds back no
 * other tenant. A lease is `next_attempt_at` moved into the future: a worker
 * that dies leaves its deliveries due again when the lease runs out.
 */
export class DeliveryQueue {
  constructor(private readonly db: Database) {}

  /** `busy`: tenants this worker is still sending for, left out so that it takes only what others have due. */
  async claim(perTenant: number, leaseMs: number, busy: readonly string[] = []): Promise<ClaimedDelivery[]> {
    const lease = randomUUID();
    return this.db.withPlatform(async (tx) => (await tx.query<Omit<ClaimedDelivery, 'lease'>>(
      // The tenants with anything queued, one index probe each (a loose index scan), not a scan of every queued row.
      `WITH RECURSIVE lanes(tenant_id) AS (
         (SELECT tenant_id FROM push_deliveries WHERE state IN ('queued', 'leased') ORDER BY tenant_id LIMIT 1)
         UNION ALL
         SELECT (SELECT d.tenant_id FROM push_deliveries d WHERE d.state IN ('queued', 'leased') AND d.tenant_id > lanes.tenant_id ORDER BY d.tenant_id LIMIT 1)
           FROM lanes WHERE lanes.tenant_id IS NOT NULL
       ), picked AS (
         SELECT due.id FROM lanes
         LEFT JOIN push_lanes l ON l.tenant_id = lanes.tenant_id
         CROSS JOIN LATERAL (
           SELECT d.id FROM push_deliveries d
            WHERE d.tenant_id = lanes.tenant_id AND d.state IN ('queued', 'leased') AND d.next_attempt_at <= now()
            ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED
         ) due
         WHERE lanes.tenant_id IS NOT NULL AND lanes.tenant_id <> ALL($3::uuid[]) AND (l.paused_until IS NULL OR l.paused_until <= now())
       ), leased AS (
         UPDATE push_deliveries d SET state = 'leased', lease_id = $4, attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2 / 1000.0)
           FROM picked WHERE d.id = picked.id
         RETURNING d.id, d.tenant_id, d.attempts, d.token_id, d.notification_id
       )
       SELECT leased.id, leased.tenant_id AS "tenantId", leased.attempts,
              json_build_object('id', t.id, 'token', t.token, 'platform', t.platform, 'environment', t.environment, 'locale', t.locale,
                                'registeredAt', t.registered_at) AS token,
              json_build_object('id', n.id, 'type', n.type, 'critical', n.critical, 'data', n.data, 'createdAt', n.created_at) AS notification
         FROM leased JOIN push_tokens t ON t.id = leased.token_id JOIN notifications n ON n.id = leased.notification_id`,
      [perTenant, leaseMs, busy, lease],
    )).rows.map((row) => ({
      ...row,
      lease,
      token: { ...row.token, registeredAt: new Date(row.token.registeredAt) },
      notification: { ...row.notification, createdAt: new Date(row.notification.createdAt) },
    })));
  }

  /**
   * Records a batch of attempts in one transaction: states, retry times, dead tokens.
   * Only where the lease is still the settler's: a worker whose lease ran out
   * while it was sending (and whose delivery another worker took again under
   * a claim of its own) records nothing, so its late "retry" cannot queue a
   * third copy behind the second worker's send. The attempt count is no fence:
   * a refused credential gives one back and a retried dead letter restarts at 0.
   */
  async settle(settlements: Settlement[]): Promise<void> {
    if (settlements.length === 0) return;
    const retryIn = (s: Settlement) => (s.state === 'queued' ? s.retryInMs : 0);
    await this.db.withPlatform(async (tx) => {
      // The rows are found by primary key (`d.id = ANY($1)` repeats the join's key: the batch's size is known)
      // and fenced by the lease id alone, which only a leased row has (a CHECK): planned from the statistics of
      // state = 'leased' (stale, near 0 after a burst is queued), the join was a nested loop re-reading the unnest
      // per row (~180 ms for 400 rows in EXPLAIN ANALYZE).
      await tx.query(
        `UPDATE push_deliveries d
            SET state = s.state, last_reason = s.reason, lease_id = NULL,
                next_attempt_at = CASE WHEN s.state = 'queued' THEN now() + make_interval(secs => s.retry_ms / 1000.0) ELSE d.next_attempt_at END,
                attempts = CASE WHEN s.state = 'queued' AND NOT s.counted THEN d.attempts - 1 ELSE d.attempts END,
                sent_at = CASE WHEN s.state = 'sent' THEN now() ELSE d.sent_at END
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::bool[], $6::uuid[]) AS s(id, state, reason, retry_ms, counted, lease)
          WHERE d.id = ANY($1::uuid[]) AND d.id = s.id AND d.lease_id = s.lease`,
        [
          settlements.map((s) => s.id), settlements.map((s) => s.state), settlements.map((s) => ('reason' in s ? s.reason : null)),
          settlements.map(retryIn), settlements.map((s) => (s.state === 'queued' ? s.countAttempt : true)), settlements.map((s) => s.lease),
        ],
      );
      const dead = settlements.flatMap((s) => ('invalidateToken' in s ? [s.invalidateToken] : []));
      if (dead.length > 0) {
        await tx.query(
          `UPDATE push_tokens t SET invalidated_at = now(), invalid_reason = x.reason
             FROM unnest($1::uuid[], $2::text[]) AS x(id, reason) WHERE t.id = x.id AND t.invalidated_at IS NULL`,
          [dead.map((d) => d.tokenId), dead.map((d) => d.reason)],
        );
        // What else was queued for a dead token goes nowhere either.
        await tx.query(`UPDATE push_deliveries SET state = 'dropped', last_reason = 'token invalid' WHERE token_id = ANY($1::uuid[]) AND state = 'queued'`, [dead.map((d) => d.tokenId)]);
      }
    });
  }

  /**
   * Deliveries waiting (queued), in flight (leased) and dead-lettered, across
   * tenants: read at each scrape, so counted over the two partial indexes
   * (sent and dropped rows, the bulk of a table with history, are not read;
   * only while nearly every row is queued does the planner scan the table).
   */
  async depth(): Promise<Record<DepthState, number>> {
    const rows = await this.db.platformQuery<{ state: DepthState; n: string }>(
      `SELECT state, count(*) AS n FROM push_deliveries WHERE state IN ('queued', 'leased') GROUP BY state
       UNION ALL
       SELECT 'dead', count(*) FROM push_deliveries WHERE state = 'dead'`,
      [],
    );
    const depth: Record<DepthState, number> = { queued: 0, leased: 0, dead: 0 };
    for (const row of rows) depth[row.state] = Number(row.n);
    return depth;
  }

  /**
   * Holds every queued delivery to these tokens until the time their provider named: a phone throttled
   * (APNs TooManyRequests is per device token) is not sent its backlog one 429 at a time meanwhile.
   */
  async holdTokens(holds: ReadonlyMap<string, number>): Promise<void> {
    if (holds.size === 0) return;
    await this.db.withPlatform((tx) => tx.query(
      `UPDATE push_deliveries d SET next_attempt_at = GREATEST(d.next_attempt_at, now() + make_interval(secs => h.ms / 1000.0))
         FROM unnest($1::uuid[], $2::float8[]) AS h(token_id, ms)
        WHERE d.token_id = h.token_id AND d.state = 'queued'`,
      [[...holds.keys()], [...holds.values()]],
    ));
  }

  /** Stops taking a tenant's deliveries for a while (its provider credential was refused). */
  async pauseLane(tenantId: string, forMs: number, reason: string): Promise<void> {
    await this.db.withPlatform((tx) => tx.query(
      `INSERT INTO push_lanes (tenant_id, paused_until, pause_reason) VALUES ($1, now() + make_interval(secs => $2 / 1000.0), $3)
       ON CONFLICT (tenant_id) DO UPDATE SET paused_until = EXCLUDED.paused_until, pause_reason = EXCLUDED.pause_reason`,
      [tenantId, forMs, reason],
    ));
  }
}

/** What the queue records for a provider's answer (the decision, not the SQL: unit-testable). */
export function settlementFor(delivery: ClaimedDelivery, outcome: SendOutcome, retry: { delayMs: (attempt: number, retryAfterMs?: number) => number; maxAttempts: number }): Settlement {
  switch (outcome.result) {
    case 'sent':
      return { id: delivery.id, lease: delivery.lease, state: 'sent' };
    case 'retry':
      if (delivery.attempts >= retry.maxAttempts) return { id: delivery.id, lease: delivery.lease, state: 'dead', reason: outcome.reason };
      return { id: delivery.id, lease: delivery.lease, state: 'queued', retryInMs: retry.delayMs(delivery.attempts, outcome.retryAfterMs), reason: outcome.reason, countAttempt: true };
    case 'invalid-token':
      return { id: delivery.id, lease: delivery.lease, state: 'dropped', reason: outcome.reason, invalidateToken: { tokenId: delivery.token.id, reason: outcome.reason } };
    case 'rejected':
      return { id: delivery.id, lease: delivery.lease, state: 'dead', reason: outcome.reason };
    case 'credential-failure':
      // Not the delivery's fault: it waits, uncounted, for the lane to reopen.
      return { id: delivery.id, lease: delivery.lease, state: 'queued', retryInMs: 0, reason: outcome.reason, countAttempt: false };
  }
}
