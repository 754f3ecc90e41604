import { performance } from 'node:perf_hooks';
import type { Database } from '../../db/database.js';
import { isForeignKeyViolation } from '../../db/pg-errors.js';
import { GatewayError } from '../errors.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import { insertTelemetry, nextId, type TelemetryRow } from './telemetry-insert.js';
import type { TelemetryPayload } from './telemetry-payload.js';
import { AcknowledgementOrder } from './acknowledgement-order.js';
import { TenantTurns, type Turn } from './tenant-turns.js';
import { ExpectedReplies } from './expected-replies.js';

/**
 * A row to store, for the tenant of `tenant` (a scope made from the publisher's TenantContext).
 * `publisher`: the connection that waits for the row's confirmation, if any (expected-replies.ts).
 */
export type TelemetryRecord = { tenant: TenantScope; deviceId: string; stream: string; payload: TelemetryPayload; receivedAt: number; publisher?: object };
type Pending = TelemetryRow & { done: ((error?: Error) => void) | undefined; publisher: object | undefined };
/** One tenant's queue, with the scope its batches are written under. */
type TenantQueue = { scope: TenantScope; rows: Pending[] };

export type TelemetryWriterOptions = {
  /** Rows per batch at most. */
  maxBatch: number;
  /**
   * Rows per batch at most while a light tenant (one with little queued) is
   * writing too. A large batch's WAL is flushed by whichever commit
   * comes next: a quiet tenant's one-row commit waited for a flood's megabyte
   * to reach the disk. Only a heavy tenant beside a light one is held to it;
   * heavy tenants among themselves keep the large batches.
   */
  maxBatchBesideLight: number;
  /**
   * Share of the time a heavy tenant's batches may keep a writer busy while a
   * light tenant writes too (1: no limit): after each such batch it rests, in
   * proportion to how long the batch took (0.5: as long again). On a node
   * short of CPU the rest is the light tenant's headroom: Postgres, the
   * gateway (slowing the heavy tenant's publishers) and those publishers all
   * do less meanwhile.
   */
  heavyShareBesideLight: number;
  /**
   * How long rows nobody waits on (QoS 0) may wait for company (0: the next turn
   * of the event loop). A row someone waits on (QoS 1, its PUBACK) never waits:
   * fewer, larger commits for fire-and-forget traffic, the least latency for
   * acknowledged traffic.
   */
  maxDelayMs: number;
  /** Rows queued per tenant beyond which `write` answers false and that tenant's publishers are slowed. */
  highWater: number;
  /**
   * The same for a heavy tenant while a light one writes. Its batches are
   * small then, so a deep queue buys it nothing, and filling one flat out (a
   * flood's first moments: the gateway reads and parses as fast as it can
   * until the tenant is slowed) crowded the light tenant's acknowledgements.
   */
  highWaterBesideLight: number;
  /** Batches written at once (each holds a pool connection). */
  concurrency: number;
  /**
   * Of those, large ones (over SMALL_BATCH_ROWS) at once while more than one
   * tenant is writing. Each costs Postgres tens of milliseconds of CPU; side
   * by side on a small server they slow every small commit (a QoS 1 row, a
   * quiet tenant's) queued behind them for the CPU. Small batches may use
   * every other writer; a tenant writing alone is not held to it.
   */
  bulkConcurrency: number;
};

export type TelemetryWriterObserver = {
  batchWritten?(rows: number, seconds: number): void;
  batchFailed?(rows: number, error: Error): void;
};

/**
 * Group commit for telemetry. A batch starts as soon as a writer is free and
 * takes everything that queued meanwhile, so batches grow with load and a
 * lone row waits for one commit, not for a timer. A tenant's small batches
 * (acknowledged traffic) go one at a time: the rows that arrive while one
 * commits form the next, which starts the moment it ends (before its PUBACKs
 * are written), so Postgres commits fewer, larger groups; a tenant whose
 * publishers answer their PUBACKs at once waits for them (expected-replies.ts).
 * Each row's `done` runs after its batch has committed, in queue order: that
 * is what lets the broker send a QoS 1 PUBACK that means "stored", in each
 * client's order.
 *
 * Tenants queue separately, batches are one tenant's and tenants take turns
 * (tenant-turns.ts), with a writer always left for the others: one tenant
 * flooding the node delays another's rows by one small commit, not by its
 * backlog; and only the flooding tenant is told to slow down. The statement
 * is in telemetry-insert.ts.
 */
export class TelemetryWriter {
  private readonly queues = new Map<string, TenantQueue>();
  private queued = 0;
  private inFlight = 0;
  private readonly turns: TenantTurns;
  private readonly acknowledgements = new AcknowledgementOrder();
  private readonly replies = new ExpectedReplies(() => this.schedule());
  private scheduled = false;
  private delayTimer: NodeJS.Timeout | undefined;
  /** Queued rows whose publisher waits for the commit. */
  private awaited = 0;
  private readonly drainWaiters = new Map<string, (() => void)[]>();
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly options: TelemetryWriterOptions,
    private readonly observer: TelemetryWriterObserver = {},
  ) {
    this.turns = new TenantTurns(options, () => this.schedule());
  }

  /** Rows waiting for their batch. */
  get depth(): number {
    return this.queued;
  }

  /** Queues a row; false means its tenant's queue is past the high-water mark: wait for `drained(tenant)`. */
  write(record: TelemetryRecord, done?: (error?: Error) => void): boolean {
    const { tenantId } = record.tenant;
    let queue = this.queues.get(tenantId);
    if (!queue) {
      queue = { scope: record.tenant, rows: [] };
      this.queues.set(tenantId, queue);
    }
    // Only a publisher that waits for the row is waited for in turn.
    const publisher = done ? record.publisher : undefined;
    queue.rows.push({ id: nextId(), deviceId: record.deviceId, stream: record.stream, payload: record.payload, receivedAt: record.receivedAt, done, publisher });
    this.turns.queued(tenantId, record.receivedAt);
    if (publisher) this.replies.arrived(tenantId, publisher);
    this.queued++;
    if (done) this.awaited++;
    this.schedule();
    return queue.rows.length < this.highWater(tenantId);
  }

  private highWater(tenantId: string): number {
    return this.turns.heldBesideLight(tenantId) ? this.options.highWaterBesideLight : this.options.highWater;
  }

  /** Resolves once the tenant's queue is below its high-water mark. */
  drained(tenant: TenantScope): Promise<void> {
    const { tenantId } = tenant;
    if ((this.queues.get(tenantId)?.rows.length ?? 0) < this.highWater(tenantId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.drainWaiters.get(tenantId) ?? [];
      waiters.push(resolve);
      this.drainWaiters.set(tenantId, waiters);
    });
  }

  /** Writes everything queued and waits for it (graceful shutdown). */
  async flush(): Promise<void> {
    while (this.queued > 0 || this.inFlight > 0) {
      this.schedule();
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private schedule(): void {
    if (this.inFlight >= this.options.concurrency || this.queued === 0) return;
    const wait = this.awaited === 0 && this.options.maxDelayMs > 0 && this.queued < this.options.maxBatch;
    if (this.scheduled && (wait || this.delayTimer === undefined)) return;
    // Someone now waits on a row while only a delay was pending: go at once.
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.delayTimer = undefined;
      this.startBatches();
    };
    if (wait) this.delayTimer = setTimeout(run, this.options.maxDelayMs);
    else setImmediate(run);
  }

  private startBatches(): void {
    while (this.queued > 0 && this.inFlight < this.options.concurrency) {
      const turn = this.turns.next(this.queues, (tenantId) => this.replies.waiting(tenantId));
      if (turn === undefined) return;
      const queue = this.queues.get(turn.tenantId)!;
      const rows = queue.rows.splice(0, turn.rows);
      if (queue.rows.length === 0) this.queues.delete(turn.tenantId);
      this.queued -= rows.length;
      for (const row of rows) if (row.done) this.awaited--;
      this.inFlight++;
      const ended = this.acknowledgements.started(turn.tenantId);
      void this.writeBatch(queue.scope, rows).then((acknowledge) => {
        this.batchEnded(turn);
        ended(acknowledge);
      });
    }
  }

  private batchEnded(turn: Turn): void {
    this.turns.finished(turn);
    this.inFlight--;
    this.releaseDrained();
    // Rows someone waits on go now, not on the next turn: Postgres commits them while this batch's PUBACKs are written.
    if (this.awaited > 0) this.startBatches();
    else if (this.queued > 0) this.schedule();
    else if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private releaseDrained(): void {
    for (const [tenantId, waiters] of this.drainWaiters) {
      if ((this.queues.get(tenantId)?.rows.length ?? 0) < this.highWater(tenantId)) {
        this.drainWaiters.delete(tenantId);
        waiters.forEach((resolve) => resolve());
      }
    }
  }

  private async writeBatch(scope: TenantScope, rows: Pending[]): Promise<() => void> {
    const started = performance.now();
    let failure: Error | undefined;
    try {
      rows = await this.insertWithoutRemoved(scope, rows);
      const ms = performance.now() - started;
      this.observer.batchWritten?.(rows.length, ms / 1000);
      // Before batchEnded starts the tenant's next batch, which is to wait for these publishers.
      this.replies.confirmed(scope.tenantId, publishersWaiting(rows), ms);
    } catch (error) {
      failure = error as Error;
      this.observer.batchFailed?.(rows.length, failure);
    }
    return () => {
      for (const row of rows) row.done?.(failure);
    };
  }

  /**
   * Inserts the batch; should a device have been removed while its rows were
   * queued (DELETE /v1/devices/<name>: telemetry_device_in_tenant refuses
   * them), its rows fail alone and the rest of its tenant's batch is written
   * once more without them. Answers the rows it wrote.
   */
  private async insertWithoutRemoved(scope: TenantScope, rows: Pending[]): Promise<Pending[]> {
    try {
      await insertTelemetry(this.db, scope, rows);
      return rows;
    } catch (error) {
      if (!isForeignKeyViolation(error, 'telemetry_device_in_tenant')) throw error;
      const existing = new Set<string>();
      await this.db.withEachTenant([[scope, [...new Set(rows.map((row) => row.deviceId))]]], async (tx, ids) => {
        const found = await tx.query<{ id: string }>('SELECT id FROM devices WHERE id = ANY($1::uuid[])', [ids]);
        for (const row of found.rows) existing.add(row.id);
      });
      const kept = rows.filter((row) => existing.has(row.deviceId));
      const removed = new GatewayError('DEVICE_NOT_FOUND', 'No such device in this tenant (removed while its telemetry waited to be written).');
      for (const row of rows) if (!existing.has(row.deviceId)) row.done?.(removed);
      if (kept.length === rows.length) throw error;
      if (kept.length > 0) await insertTelemetry(this.db, scope, kept);
      return kept;
    }
  }
}

function publishersWaiting(rows: Pending[]): object[] {
  const publishers: object[] = [];
  for (const row of rows) if (row.publisher) publishers.push(row.publisher);
  return publishers;
}
