import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEventBus } from '../../src/core/event-bus.js';
import type { Database } from '../../src/db/database.js';
import { DeliveryQueue, settlementFor } from '../../src/push/delivery-queue.js';
import type { BuiltPayload, Notification, Platform, PushSender, SendOutcome, SendRequest } from '../../src/push/push-message.js';
import { PushWorker, DEFAULT_WORKER_OPTIONS } from '../../src/push/push-worker.js';
import { createTestDatabase, silentLog } from '../support/database.js';

/** A sender of our own interface that answers as scripted per token, and records what it was asked. */
class ScriptedSender implements PushSender {
  readonly sent: SendRequest[] = [];
  constructor(private readonly answer: (token: string) => SendOutcome) {}
  async send(requests: SendRequest[]): Promise<SendOutcome[]> {
    this.sent.push(...requests);
    return requests.map((request) => this.answer(request.target.token));
  }
  async close(): Promise<void> {}
}

const payload = (): BuiltPayload => ({ platform: 'ios', body: '{}', pushType: 'alert', priority: 10, expiresAt: new Date() });

/**
 * The deliveries table as a queue, against real PostgreSQL: no double claim,
 * a round-robin between tenants, retries, dead letters, dead tokens, paused lanes.
 */
describe('push delivery queue and worker', () => {
  let db: Database;
  let close: () => Promise<void>;
  let queue: DeliveryQueue;
  let n = 0;

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    queue = new DeliveryQueue(db);
  });
  afterAll(() => close());

  /** A tenant with one person, one token, and `count` queued deliveries to it. */
  async function tenantWith(count: number, token = `tok-${++n}-${'a'.repeat(16)}`): Promise<{ tenantId: string; tokenId: string; token: string }> {
    const [{ id: tenantId }] = await db.platformQuery<{ id: string }>('INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id', [`q${++n}`]) as [{ id: string }];
    const [{ id: userId }] = await db.platformQuery<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id`, [`u${n}@q.test`]) as [{ id: string }];
    await db.platformQuery(`INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, [tenantId, userId]);
    const [{ id: tokenId }] = await db.platformQuery<{ id: string }>(
      `INSERT INTO push_tokens (tenant_id, user_id, platform, environment, token, app_id) VALUES ($1, $2, 'ios', 'production', $3, 'app') RETURNING id`, [tenantId, userId, token]) as [{ id: string }];
    await db.platformQuery(
      `WITH made AS (INSERT INTO notifications (tenant_id, user_id, type, category, data)
                     SELECT $1, $2, 'device.alarm', 'alarm', jsonb_build_object('i', i::text) FROM generate_series(1, $4) i RETURNING id)
       INSERT INTO push_deliveries (tenant_id, notification_id, token_id) SELECT $1, id, $3 FROM made`,
      [tenantId, userId, tokenId, count]);
    return { tenantId, tokenId, token };
  }
  const states = (tenantId: string) => db.platformQuery<{ state: string; attempts: number; n: number }>(
    'SELECT state, attempts, count(*)::int AS n FROM push_deliveries WHERE tenant_id = $1 GROUP BY 1, 2 ORDER BY 1, 2', [tenantId]);
  /** Empties the queue of earlier tests' leftovers, so each test sees its own tenants only. */
  const drain = () => db.platformQuery(`UPDATE push_deliveries SET state = 'dropped', lease_id = NULL WHERE state IN ('queued', 'leased')`, []);
  function worker(answer: (token: string) => SendOutcome, options: Partial<typeof DEFAULT_WORKER_OPTIONS> = {}, build: (n: Notification) => BuiltPayload = payload) {
    const sender = new ScriptedSender(answer);
    const refused: string[] = [];
    const events = new LocalEventBus();
    const w = new PushWorker({
      queue, events, log: silentLog,
      senderFor: async (_tenant: string, platform: Platform) => (platform === 'ios' ? sender : undefined),
      build,
      credentialRefused: async (tenantId) => { refused.push(tenantId); },
    }, { ...DEFAULT_WORKER_OPTIONS, ...options });
    return { w, sender, refused };
  }

  it('two workers claiming at once never take the same delivery', async () => {
    await drain();
    const { tenantId } = await tenantWith(300);
    const [a, b] = await Promise.all([queue.claim(200, 60_000), queue.claim(200, 60_000)]);
    const ids = [...a, ...b].map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeLessThanOrEqual(300);
    expect(await states(tenantId)).toContainEqual({ state: 'leased', attempts: 1, n: ids.length });
  });

  it('a round takes a share of every tenant: a burst of one does not hold back another', async () => {
    await drain();
    const burst = await tenantWith(2_000);
    const quiet = await tenantWith(5);
    const claimed = await queue.claim(50, 60_000);
    expect(claimed.filter((d) => d.tenantId === quiet.tenantId)).toHaveLength(5);
    expect(claimed.filter((d) => d.tenantId === burst.tenantId)).toHaveLength(50);
    expect(claimed.find((d) => d.tenantId === quiet.tenantId)).toMatchObject({ token: { token: quiet.token, platform: 'ios' }, notification: { type: 'device.alarm' } });
  });

  it('sent is recorded; Retry-After holds a retry back; the last attempt is a dead letter with its reason', async () => {
    await drain();
    const ok = await tenantWith(2);
    const throttled = await tenantWith(1);
    const failing = await tenantWith(1);
    const { w, sender } = worker((token) => (token === ok.token ? { result: 'sent' }
      : token === throttled.token ? { result: 'retry', reason: 'TooManyRequests', retryAfterMs: 60_000 }
        : { result: 'retry', reason: 'InternalServerError' }), { retry: { baseMs: 0, capMs: 0, maxAttempts: 2 } });

    expect(await w.round()).toBe(4);
    expect(await states(ok.tenantId)).toEqual([{ state: 'sent', attempts: 1, n: 2 }]);
    expect(await states(throttled.tenantId)).toEqual([{ state: 'queued', attempts: 1, n: 1 }]);
    // baseMs 0: the failing one is due again at once; the throttled one is not, for a minute.
    expect(await w.round()).toBe(1);
    expect(await states(failing.tenantId)).toEqual([{ state: 'dead', attempts: 2, n: 1 }]);
    expect((await db.platformQuery<{ last_reason: string }>('SELECT last_reason FROM push_deliveries WHERE tenant_id = $1', [failing.tenantId]))[0]!.last_reason).toBe('InternalServerError');
    expect(await w.round()).toBe(0);
    expect(sender.sent.filter((request) => request.target.token === throttled.token)).toHaveLength(1);
    // apns-collapse-id and apns-id: the notification and the delivery.
    expect(sender.sent[0]!.target).toMatchObject({ notificationId: expect.any(String), deliveryId: expect.any(String) });
  });

  it('a dead token is disabled and what else was queued for it is dropped', async () => {
    await drain();
    const dead = await tenantWith(3);
    const { w } = worker(() => ({ result: 'invalid-token', reason: 'Unregistered' }), { perTenant: 1 });
    expect(await w.round()).toBe(1);
    expect(await states(dead.tenantId)).toEqual([{ state: 'dropped', attempts: 0, n: 2 }, { state: 'dropped', attempts: 1, n: 1 }]);
    const [token] = await db.platformQuery<{ invalid_reason: string | null; active: boolean }>('SELECT invalid_reason, invalidated_at IS NULL AS active FROM push_tokens WHERE id = $1', [dead.tokenId]);
    expect(token).toEqual({ invalid_reason: 'Unregistered', active: false });
  });

  it('a refused credential pauses its tenant\'s lane without counting the attempt; other tenants go on', async () => {
    await drain();
    const refusedTenant = await tenantWith(2);
    const fine = await tenantWith(1);
    const { w, refused } = worker((token) => (token === refusedTenant.token ? { result: 'credential-failure', reason: 'InvalidProviderToken' } : { result: 'sent' }));
    expect(await w.round()).toBe(3);
    expect(refused).toEqual([refusedTenant.tenantId]);
    expect(await states(refusedTenant.tenantId)).toEqual([{ state: 'queued', attempts: 0, n: 2 }]);
    expect(await states(fine.tenantId)).toEqual([{ state: 'sent', attempts: 1, n: 1 }]);
    // Due again at once, but the lane is paused: nothing is taken.
    expect(await w.round()).toBe(0);
  });

  it('a worker that dies leaves its leases to run out; the next one takes them again', async () => {
    await drain();
    const orphan = await tenantWith(1);
    expect(await queue.claim(10, 0)).toHaveLength(1); // leased, and the lease is over at once: as if its worker died
    const again = await queue.claim(10, 60_000);
    expect(again.map((d) => d.attempts)).toEqual([2]);
    expect(await states(orphan.tenantId)).toEqual([{ state: 'leased', attempts: 2, n: 1 }]);
  });

  it('a worker whose lease ran out while it was sending records nothing over the worker that took the delivery again', async () => {
    await drain();
    const slow = await tenantWith(1);
    const [first] = await queue.claim(10, 0); // its lease is over at once: the worker is still sending when another claims
    const [second] = await queue.claim(10, 60_000);
    expect([first!.attempts, second!.attempts]).toEqual([1, 2]);
    const retry = { delayMs: () => 60_000, maxAttempts: 8 };
    // The first worker's late answer (a 429) would queue a third copy behind the second's send; it is not recorded.
    await queue.settle([settlementFor(first!, { result: 'retry', reason: 'TooManyRequests' }, retry)]);
    expect(await states(slow.tenantId)).toEqual([{ state: 'leased', attempts: 2, n: 1 }]);
    await queue.settle([settlementFor(second!, { result: 'sent' }, retry)]);
    expect(await states(slow.tenantId)).toEqual([{ state: 'sent', attempts: 2, n: 1 }]);
  });

  it('a stale claim cannot settle even when the delivery\'s attempt count has come round to its own again', async () => {
    await drain();
    const stale = await tenantWith(1);
    const retry = { delayMs: () => 60_000, maxAttempts: 2 };
    const [first] = await queue.claim(10, 0); // lease over at once: this worker is still sending when the next claims
    const [second] = await queue.claim(10, 0);
    await queue.settle([settlementFor(second!, { result: 'retry', reason: 'InternalServerError' }, retry)]);
    expect(await states(stale.tenantId)).toEqual([{ state: 'dead', attempts: 2, n: 1 }]);
    // An admin sends the dead letter again: the count starts over, and the next claim is attempt 1, as the stale one was.
    await db.platformQuery(`UPDATE push_deliveries SET state = 'queued', attempts = 0, next_attempt_at = now() WHERE tenant_id = $1`, [stale.tenantId]);
    const [third] = await queue.claim(10, 60_000);
    expect([first!.attempts, third!.attempts]).toEqual([1, 1]);
    expect(new Set([first!.lease, second!.lease, third!.lease]).size).toBe(3);

    await queue.settle([settlementFor(first!, { result: 'retry', reason: 'TooManyRequests' }, retry)]);
    expect(await states(stale.tenantId)).toEqual([{ state: 'leased', attempts: 1, n: 1 }]);
    await queue.settle([settlementFor(third!, { result: 'sent' }, retry)]);
    expect(await states(stale.tenantId)).toEqual([{ state: 'sent', attempts: 1, n: 1 }]);
  });

  it('a notification that cannot be built is a dead letter of its own; the rest of its group is sent', async () => {
    await drain();
    const mixed = await tenantWith(3);
    const { w, sender } = worker(() => ({ result: 'sent' }), {}, (notification) => {
      if (notification.data.i === '2') throw new Error('PAYLOAD_TOO_LARGE');
      return payload();
    });
    expect(await w.round()).toBe(3);
    expect(sender.sent).toHaveLength(2);
    expect(await states(mixed.tenantId)).toEqual([{ state: 'dead', attempts: 1, n: 1 }, { state: 'sent', attempts: 1, n: 2 }]);
  });

  it('a tenant with no credential for the platform keeps the history and drops the delivery', async () => {
    await drain();
    const android = await tenantWith(1);
    await db.platformQuery(`UPDATE push_tokens SET platform = 'android' WHERE id = $1`, [android.tokenId]);
    const { w } = worker(() => ({ result: 'sent' }));
    expect(await w.round()).toBe(1);
    expect(await states(android.tenantId)).toEqual([{ state: 'dropped', attempts: 1, n: 1 }]);
  });
});
