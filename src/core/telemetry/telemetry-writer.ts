import { uuidv7 } from 'uuidv7';
import type { Database } from '../../db/database.js';

export type TelemetryRecord = { tenantId: string; deviceId: string; stream: string; payload: string; receivedAt: number };
type Pending = TelemetryRecord & { id: string; done: ((error?: Error) => void) | undefined };

export type TelemetryWriterOptions = {
  /** Rows per INSERT at most. */
  maxBatch: number;
  /** How long the first row of a batch may wait for company before the batch is written. */
  maxDelayMs: number;
  /** Rows queued beyond this: `write` answers false and publishers are slowed until it drains. */
  highWater: number;
  /** Batches written at once (each holds a pool connection). */
  concurrency: number;
};

export type TelemetryWriterObserver = {
  batchWritten?(rows: number, seconds: number): void;
  batchFailed?(rows: number, error: Error): void;
};

// Ids are made here, UUIDv7 and monotonic within the process, so that rows of one millisecond keep their arrival order.
const INSERT = `INSERT INTO telemetry (id, tenant_id, device_id, stream, payload, received_at)
  SELECT u.id, $1::uuid, u.d, u.s, u.p::jsonb, to_timestamp(u.r / 1000.0)
    FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::float8[]) AS u(id, d, s, p, r)`;

/**
 * Group commit for telemetry: rows from every publisher are gathered and
 * written as one multi-row INSERT per tenant in one transaction, by size or
 * after a few milliseconds. Each row's `done` runs only after its batch has
 * committed, which is what lets the broker send a QoS 1 PUBACK that means
 * "stored". Callbacks run in arrival order within a batch.
 */
export class TelemetryWriter {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly options: TelemetryWriterOptions,
    private readonly observer: TelemetryWriterObserver = {},
  ) {}

  /** Rows waiting or being written. */
  get depth(): number {
    return this.queue.length;
  }

  /** Queues a row; false means the queue is past its high-water mark and the caller should wait for `drained()`. */
  write(record: TelemetryRecord, done?: (error?: Error) => void): boolean {
    this.queue.push({ ...record, id: uuidv7(), done });
    if (this.queue.length >= this.options.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.options.maxDelayMs);
    return this.queue.length < this.options.highWater;
  }

  /** Resolves once the queue is below its high-water mark. */
  drained(): Promise<void> {
    if (this.queue.length < this.options.highWater) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Writes everything queued and waits for it (graceful shutdown). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) {
      this.kick();
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0 && this.inFlight < this.options.concurrency) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.writeBatch(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length < this.options.highWater) this.drainWaiters.splice(0).forEach((resolve) => resolve());
        if (this.queue.length > 0) {
          if (this.queue.length >= this.options.maxBatch || this.inFlight === 0) this.kick();
          else this.timer ??= setTimeout(() => this.kick(), this.options.maxDelayMs);
        }
        if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const started = process.hrtime.bigint();
    const byTenant = new Map<string, Pending[]>();
    for (const row of batch) {
      const group = byTenant.get(row.tenantId);
      if (group) group.push(row);
      else byTenant.set(row.tenantId, [row]);
    }
    let failure: Error | undefined;
    try {
      await this.db.withEachTenant(byTenant, (tx, rows, tenantId) =>
        tx.query(INSERT, [tenantId, rows.map((r) => r.id), rows.map((r) => r.deviceId), rows.map((r) => r.stream), rows.map((r) => r.payload), rows.map((r) => r.receivedAt)]).then(() => undefined),
      );
      this.observer.batchWritten?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (error) {
      failure = error as Error;
      this.observer.batchFailed?.(batch.length, failure);
    }
    for (const row of batch) row.done?.(failure);
  }
}
