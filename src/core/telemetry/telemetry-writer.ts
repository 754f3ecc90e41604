import pg from 'pg';
import { randomFillSync } from 'node:crypto';
import { V7Generator } from 'uuidv7';
import type { Database } from '../../db/database.js';
import { TenantRests } from './tenant-rests.js';

export type TelemetryRecord = { tenantId: string; deviceId: string; stream: string; payload: string; receivedAt: number };
type Pending = TelemetryRecord & { id: string; done: ((error?: Error) => void) | undefined };

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
   * Of those, large ones (the `unnest` path) at once while more than one
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
 * Two ways to write a batch, by size (measured on the reference machine):
 * - small (QoS 1 traffic waiting for its PUBACK): one multi-row INSERT with
 *   the values inline, the whole batch one round trip (Database.executeAsTenant);
 *   ids, tenant and device ids are UUIDs we made or checked, text is quoted;
 * - large: one `unnest` INSERT per tenant, three round trips, but Postgres
 *   parses 1 000 rows of it 1.5× faster than a 1 000-row VALUES list. Its
 *   columns travel as joined text rather than arrays: node-postgres escapes
 *   every element of an array (0.8 µs a row on the gateway's one thread),
 *   joining costs 0.2 µs, and a payload, being valid JSON, cannot hold the
 *   record separator (JSON allows no raw control character).
 * Ids are UUIDv7 made here, monotonic within the process, so that rows of one
 * millisecond keep their arrival order.
 */
const INLINE_MAX_ROWS = 64;
/** A tenant that queued a row within this long counts as writing (for `bulkConcurrency`). */
const ACTIVE_WINDOW_MS = 1_000;
const RECORD_SEPARATOR = '\x1e';
const UNNEST_INSERT = `INSERT INTO telemetry (id, tenant_id, device_id, stream, payload, received_at)
  SELECT u.id::uuid, $1::uuid, u.d::uuid, u.s, u.p::jsonb, to_timestamp(u.r::float8 / 1000.0)
    FROM unnest(string_to_array($2, ','), string_to_array($3, ','), $4::text[], string_to_array($5, chr(${RECORD_SEPARATOR.charCodeAt(0)})), string_to_array($6, ',')) AS u(id, d, s, p, r)`;

/**
 * UUIDv7 ids: the library's generator (monotonic within a millisecond) with
 * its random bits drawn 4 KiB at a time (its default draws 32 bytes a time),
 * written as 32 hex digits in one native call (Postgres takes a uuid with or
 * without hyphens; the library's toString builds the text a character at a time).
 */
const nextId = (() => {
  const pool = new Uint32Array(1024);
  let next = pool.length;
  const generator = new V7Generator({
    nextUint32() {
      if (next === pool.length) {
        randomFillSync(pool);
        next = 0;
      }
      return pool[next++]!;
    },
  });
  const scratch = Buffer.alloc(16);
  return () => {
    scratch.set(generator.generate().bytes);
    return scratch.toString('hex');
  };
})();

function insertStatement(tenantId: string, rows: Pending[]): string {
  let sql = 'INSERT INTO telemetry (id, tenant_id, device_id, stream, payload, received_at) VALUES ';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    sql += `${i === 0 ? '' : ','}('${r.id}','${tenantId}','${r.deviceId}',${r.stream === '' ? "''" : pg.escapeLiteral(r.stream)},${quotePayload(r.payload)},to_timestamp(${r.receivedAt / 1000}))`;
  }
  return sql;
}

function unnestColumns(rows: Pending[]): [ids: string, devices: string, streams: string[], payloads: string, receivedAt: string] {
  const n = rows.length;
  const [idList, devices, streams, payloads, times] = [new Array<string>(n), new Array<string>(n), new Array<string>(n), new Array<string>(n), new Array<number>(n)];
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    idList[i] = r.id;
    devices[i] = r.deviceId;
    streams[i] = r.stream;
    payloads[i] = r.payload;
    times[i] = r.receivedAt;
  }
  return [idList.join(','), devices.join(','), streams, payloads.join(RECORD_SEPARATOR), times.join(',')];
}

/** Dollar quoting costs one search instead of escaping every character; escapeLiteral is the fallback for the odd payload holding the tag. */
const TAG = '$gh$';
function quotePayload(json: string): string {
  return json.includes(TAG) ? pg.escapeLiteral(json) : `${TAG}${json}${TAG}`;
}

/**
 * Group commit for telemetry. A batch starts as soon as a writer is free and
 * takes everything that queued meanwhile, so batches grow with load and a
 * lone row waits for one commit, not for a timer. Each row's `done` runs
 * after its batch has committed: that is what lets the broker send a QoS 1
 * PUBACK that means "stored".
 *
 * Tenants queue separately, batches are one tenant's and tenants take turns,
 * with a writer always left for the others: one tenant flooding the node delays
 * another's rows by one small commit, not by its backlog; and only the flooding
 * tenant is told to slow down.
 */
export class TelemetryWriter {
  private readonly queues = new Map<string, Pending[]>();
  private queued = 0;
  private inFlight = 0;
  private readonly inFlightByTenant = new Map<string, number>();
  private turn = 0;
  private bulkInFlight = 0;
  /** When each tenant last queued a row (ms), to tell whether a tenant writes alone. */
  private readonly lastWriteAt = new Map<string, number>();
  /**
   * Rows each tenant had queued when its last batch started: a tenant with
   * little queued is light (asked of the queue, not the batch, so that a heavy
   * tenant held to small batches still counts as heavy).
   */
  private readonly queuedAtLastBatch = new Map<string, number>();
  /** Heavy tenants resting beside a light one (`heavyShareBesideLight`). */
  private readonly rests = new TenantRests(() => this.schedule());
  /** Heavy tenants whose last batch was held small beside a light tenant. */
  private readonly besideLight = new Set<string>();
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
  ) {}

  /** Rows waiting for their batch. */
  get depth(): number {
    return this.queued;
  }

  /** Queues a row; false means its tenant's queue is past the high-water mark: wait for `drained(tenantId)`. */
  write(record: TelemetryRecord, done?: (error?: Error) => void): boolean {
    let queue = this.queues.get(record.tenantId);
    if (!queue) this.queues.set(record.tenantId, (queue = []));
    queue.push({ id: nextId(), tenantId: record.tenantId, deviceId: record.deviceId, stream: record.stream, payload: record.payload, receivedAt: record.receivedAt, done });
    this.lastWriteAt.set(record.tenantId, record.receivedAt);
    this.queued++;
    if (done) this.awaited++;
    this.schedule();
    return queue.length < this.highWater(record.tenantId);
  }

  private highWater(tenantId: string): number {
    return this.besideLight.has(tenantId) ? this.options.highWaterBesideLight : this.options.highWater;
  }

  /** Resolves once the tenant's queue is below its high-water mark. */
  drained(tenantId: string): Promise<void> {
    if ((this.queues.get(tenantId)?.length ?? 0) < this.highWater(tenantId)) return Promise.resolve();
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
      const next = this.nextTenant();
      if (next === undefined) return;
      const { tenantId, held } = next;
      const queue = this.queues.get(tenantId)!;
      this.queuedAtLastBatch.set(tenantId, queue.length);
      if (held) this.besideLight.add(tenantId);
      else this.besideLight.delete(tenantId);
      const rows = queue.splice(0, this.batchSize(tenantId, held));
      if (queue.length === 0) this.queues.delete(tenantId);
      this.queued -= rows.length;
      for (const row of rows) if (row.done) this.awaited--;
      const bulk = rows.length > INLINE_MAX_ROWS;
      if (bulk) this.bulkInFlight++;
      this.inFlight++;
      this.inFlightByTenant.set(tenantId, (this.inFlightByTenant.get(tenantId) ?? 0) + 1);
      const startedAt = performance.now();
      void this.writeBatch(tenantId, rows).finally(() => {
        if (held) this.rests.rest(tenantId, (performance.now() - startedAt) * (1 / this.options.heavyShareBesideLight - 1));
        if (bulk) this.bulkInFlight--;
        this.inFlight--;
        const left = this.inFlightByTenant.get(tenantId)! - 1;
        if (left === 0) this.inFlightByTenant.delete(tenantId);
        else this.inFlightByTenant.set(tenantId, left);
        this.releaseDrained();
        if (this.queued > 0) this.schedule();
        else if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  /**
   * Tenants take turns (round robin) and each batch holds one tenant's rows.
   * No tenant ever holds every writer, so that another tenant's row, whenever
   * it comes, finds a writer free at once rather than waiting behind a flood's
   * large batches (measured under the bench's overload: those waits were the
   * quiet tenant's 90-100 ms commits when the cap applied only while it queued).
   * Also answers whether that tenant's batch is held beside a light one, so
   * the batch is the one the choice was made for.
   */
  private nextTenant(): { tenantId: string; held: boolean } | undefined {
    const tenants = [...this.queues.keys()];
    const cap = Math.max(1, this.options.concurrency - 1);
    for (let i = 0; i < tenants.length; i++) {
      const tenantId = tenants[(this.turn + i) % tenants.length]!;
      if ((this.inFlightByTenant.get(tenantId) ?? 0) >= cap || this.rests.isResting(tenantId)) continue;
      const held = this.heldBesideLight(tenantId);
      const bulk = this.batchSize(tenantId, held) > INLINE_MAX_ROWS;
      if (bulk && this.bulkInFlight >= this.options.bulkConcurrency && this.othersWriting(tenantId)) continue;
      this.turn = (this.turn + i + 1) % Math.max(1, tenants.length);
      return { tenantId, held };
    }
    return undefined;
  }

  /** Rows the tenant's next batch takes: the one answer both scheduling (is it bulk?) and the batch itself use. */
  private batchSize(tenantId: string, held: boolean): number {
    return Math.min(this.queues.get(tenantId)!.length, held ? this.options.maxBatchBesideLight : this.options.maxBatch);
  }

  /** Whether the tenant's next batch is held small (and short, and followed by a rest) because a light tenant writes too. */
  private heldBesideLight(tenantId: string): boolean {
    return this.queues.get(tenantId)!.length > this.options.maxBatchBesideLight && this.othersWriting(tenantId, true);
  }

  /**
   * Whether a tenant other than this one queued a row in the last second
   * (forgetting older ones); with `light`, one that had little queued.
   */
  private othersWriting(tenantId: string, light = false): boolean {
    const since = Date.now() - ACTIVE_WINDOW_MS;
    let others = false;
    for (const [other, at] of this.lastWriteAt) {
      if (at < since) {
        this.lastWriteAt.delete(other);
        this.queuedAtLastBatch.delete(other);
        this.besideLight.delete(other);
      } else if (other !== tenantId && (!light || (this.queuedAtLastBatch.get(other) ?? 0) <= INLINE_MAX_ROWS)) {
        others = true;
      }
    }
    return others;
  }

  private releaseDrained(): void {
    for (const [tenantId, waiters] of this.drainWaiters) {
      if ((this.queues.get(tenantId)?.length ?? 0) < this.highWater(tenantId)) {
        this.drainWaiters.delete(tenantId);
        waiters.forEach((resolve) => resolve());
      }
    }
  }

  private async writeBatch(tenantId: string, rows: Pending[]): Promise<void> {
    const started = process.hrtime.bigint();
    let failure: Error | undefined;
    try {
      if (rows.length <= INLINE_MAX_ROWS) {
        await this.db.executeAsTenant(tenantId, insertStatement(tenantId, rows));
      } else {
        await this.db.withEachTenant([[tenantId, unnestColumns(rows)]], (tx, columns) => tx.query(UNNEST_INSERT, [tenantId, ...columns]).then(() => undefined));
      }
      this.observer.batchWritten?.(rows.length, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (error) {
      failure = error as Error;
      this.observer.batchFailed?.(rows.length, failure);
    }
    for (const row of rows) row.done?.(failure);
  }
}
