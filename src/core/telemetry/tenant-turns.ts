import { performance } from 'node:perf_hooks';
import { TenantRests } from './tenant-rests.js';

/** What the turn-taking reads of the writer's options (TelemetryWriterOptions documents each). */
export type TurnOptions = {
  maxBatch: number;
  maxBatchBesideLight: number;
  heavyShareBesideLight: number;
  concurrency: number;
  bulkConcurrency: number;
};

/** A batch the turn-taking chose: whose, how many rows, and whether it is held small beside a light tenant. */
export type Turn = { tenantId: string; held: boolean; rows: number; bulk: boolean; startedAt: number };

/**
 * Rows in a small batch at most: acknowledged (QoS 1) traffic's size, and the
 * most a light tenant has queued. A tenant's small batches are written one at
 * a time, each taking what queued while the last was in flight (group commit);
 * larger ones may go side by side.
 */
export const SMALL_BATCH_ROWS = 64;

/** A tenant that queued a row within this long counts as writing (for `bulkConcurrency`). */
const ACTIVE_WINDOW_MS = 1_000;

/**
 * Fairness between tenants for the telemetry writer: whose batch goes next,
 * how large it may be, and how long a heavy tenant rests after it.
 *
 * Tenants take turns (round robin) and each batch holds one tenant's rows.
 * No tenant ever holds every writer, so that another tenant's row, whenever
 * it comes, finds a writer free at once rather than waiting behind a flood's
 * large batches (measured under the bench's overload: those waits were the
 * quiet tenant's 90-100 ms commits when the cap applied only while it queued).
 */
export class TenantTurns {
  private turn = 0;
  private bulkInFlight = 0;
  private readonly inFlightByTenant = new Map<string, number>();
  /** When each tenant last queued a row (ms), to tell whether a tenant writes alone. */
  private readonly lastWriteAt = new Map<string, number>();
  /**
   * Rows each tenant had queued when its last batch started: a tenant with
   * little queued is light (asked of the queue, not the batch, so that a heavy
   * tenant held to small batches still counts as heavy).
   */
  private readonly queuedAtLastBatch = new Map<string, number>();
  /** Heavy tenants resting beside a light one (`heavyShareBesideLight`). */
  private readonly rests: TenantRests;
  /** Heavy tenants whose last batch was held small beside a light tenant. */
  private readonly besideLight = new Set<string>();

  /** `wake`: called when a rest ends, so that a rested tenant's queue is not left waiting. */
  constructor(private readonly options: TurnOptions, wake: () => void) {
    this.rests = new TenantRests(wake);
  }

  /** A row was queued for the tenant at `at` (ms). */
  queued(tenantId: string, at: number): void {
    this.lastWriteAt.set(tenantId, at);
  }

  /** Whether the tenant's last batch was held small beside a light tenant (its high-water mark is lower then). */
  heldBesideLight(tenantId: string): boolean {
    return this.besideLight.has(tenantId);
  }

  /**
   * The next batch, from `queues` (rows queued per tenant, in the order the
   * tenants first queued), and marks it started; undefined if no tenant may
   * write now. The batch's size and whether it is held are decided together,
   * so the batch is the one the choice was made for. A tenant `gathering` its
   * acknowledged publishers' next rows (expected-replies.ts) waits, unless it
   * has a full batch queued already.
   */
  next(queues: ReadonlyMap<string, { readonly rows: { readonly length: number } }>, gathering: (tenantId: string) => boolean): Turn | undefined {
    const tenants = [...queues.keys()];
    const cap = Math.max(1, this.options.concurrency - 1);
    for (let i = 0; i < tenants.length; i++) {
      const tenantId = tenants[(this.turn + i) % tenants.length]!;
      const inFlight = this.inFlightByTenant.get(tenantId) ?? 0;
      if (inFlight >= cap || this.rests.isResting(tenantId)) continue;
      const queued = queues.get(tenantId)!.rows.length;
      if ((queued <= SMALL_BATCH_ROWS && inFlight > 0) || (queued < this.options.maxBatch && gathering(tenantId))) continue;
      const held = queued > this.options.maxBatchBesideLight && this.othersWriting(tenantId, true);
      const rows = Math.min(queued, held ? this.options.maxBatchBesideLight : this.options.maxBatch);
      const bulk = rows > SMALL_BATCH_ROWS;
      if (bulk && this.bulkInFlight >= this.options.bulkConcurrency && this.othersWriting(tenantId)) continue;
      this.turn = (this.turn + i + 1) % Math.max(1, tenants.length);
      this.queuedAtLastBatch.set(tenantId, queued);
      if (held) this.besideLight.add(tenantId);
      else this.besideLight.delete(tenantId);
      if (bulk) this.bulkInFlight++;
      this.inFlightByTenant.set(tenantId, (this.inFlightByTenant.get(tenantId) ?? 0) + 1);
      return { tenantId, held, rows, bulk, startedAt: performance.now() };
    }
    return undefined;
  }

  /** The batch is written (or failed): a held tenant rests for its share of the time the batch took. */
  finished(turn: Turn): void {
    if (turn.held) this.rests.rest(turn.tenantId, (performance.now() - turn.startedAt) * (1 / this.options.heavyShareBesideLight - 1));
    if (turn.bulk) this.bulkInFlight--;
    const left = this.inFlightByTenant.get(turn.tenantId)! - 1;
    if (left === 0) this.inFlightByTenant.delete(turn.tenantId);
    else this.inFlightByTenant.set(turn.tenantId, left);
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
      } else if (other !== tenantId && (!light || (this.queuedAtLastBatch.get(other) ?? 0) <= SMALL_BATCH_ROWS)) {
        others = true;
      }
    }
    return others;
  }
}
