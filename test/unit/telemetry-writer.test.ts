import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TelemetryWriter, type TelemetryWriterOptions } from '../../src/core/telemetry/telemetry-writer.js';
import type { Database } from '../../src/db/database.js';
import type { TenantScope } from '../../src/db/tenant-scope.js';
import { scopeFor } from '../support/fixtures.js';

// Every test runs on vitest's fake clock: a "1 ms" write ends before an "11 ms" one because the clock says so, not because
// the machine was idle enough. TenantRests reads node:perf_hooks' `performance`, which fake timers do not replace: here it
// reads the global one, which they do.
vi.mock('node:perf_hooks', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:perf_hooks')>();
  return { ...actual, performance: { now: () => globalThis.performance.now() } };
});

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Moves the fake clock from timer to timer, each at its due time, until `promise` settles. */
async function settled<T>(promise: Promise<T>): Promise<T> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  while (!done) {
    if (vi.getTimerCount() === 0) {
      await vi.advanceTimersByTimeAsync(0); // promise callbacks only
      if (!done && vi.getTimerCount() === 0) throw new Error('nothing left to run, and the promise is still pending');
      continue;
    }
    await vi.advanceTimersToNextTimerAsync();
  }
  return promise;
}

/** `writer.write` with a confirmation, as a promise. */
const confirmed = (writer: TelemetryWriter, record: ReturnType<typeof row>) => new Promise<void>((resolve) => writer.write(record, () => resolve()));

const A = scopeFor('01a20000-0000-7000-8000-00000000000a');
const B = scopeFor('01a20000-0000-7000-8000-00000000000b');

/** A database whose writes take 1 ms and 1 ms more per 100 rows (on the fake clock), and that records what each batch held. */
function slowDatabase() {
  const batches: { tenants: TenantScope[]; rows: number }[] = [];
  /** When each batch started and ended (ms), in the order of `batches`. */
  const timings: { tenantId: TenantScope; start: number; end: number }[] = [];
  const large = { now: 0, most: 0 };
  const write = async (groups: [TenantScope, number][]) => {
    const rows = groups.reduce((sum, [, n]) => sum + n, 0);
    batches.push({ tenants: groups.map(([t]) => t), rows });
    const timing = { tenantId: groups[0]![0], start: performance.now(), end: 0 };
    timings.push(timing);
    const isLarge = rows > 64;
    if (isLarge) large.most = Math.max(large.most, ++large.now);
    await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(rows / 100)));
    if (isLarge) large.now--;
    timing.end = performance.now();
  };
  const db = {
    // The write procedure's arguments: ids joined by commas, then devices, streams (an array), payloads, times, bytes.
    callAsTenant: (tenant: TenantScope, _fn: string, columns: [string, string, string[]]) => write([[tenant, columns[2].length]]),
  } as unknown as Database;
  return { db, batches, timings, large };
}

/** A writer with what a test does not set left at these defaults (and nothing held beside light tenants). */
function writerFor(db: Database, options: Partial<TelemetryWriterOptions> & Pick<TelemetryWriterOptions, 'maxBatch'>): TelemetryWriter {
  return new TelemetryWriter(db, { maxBatchBesideLight: options.maxBatch, heavyShareBesideLight: 1, maxDelayMs: 0, highWater: 50_000, highWaterBesideLight: 50_000, concurrency: 2, bulkConcurrency: 2, ...options });
}

const row = (tenant: TenantScope, n: number) => ({ tenant, deviceId: '01a20000-0000-7000-8000-0000000000dd', stream: '', payload: `{"n":${n}}`, receivedAt: Date.now() });

describe('TelemetryWriter', () => {
  it('confirms every row after its batch, in order, and flushes on demand', async () => {
    const { db } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 50, highWater: 10_000 });
    const confirmed: number[] = [];
    for (let n = 0; n < 500; n++) writer.write(row(A, n), () => confirmed.push(n));
    await settled(writer.flush());
    expect(confirmed).toEqual(Array.from({ length: 500 }, (_, n) => n));
    expect(writer.depth).toBe(0);
  });

  it('group commit: a lone acknowledged row goes at once; rows arriving while its commit is in flight go together in the next one', async () => {
    const { db, batches } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, concurrency: 4 });
    const first = confirmed(writer, row(A, 0));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((batch) => batch.rows)).toEqual([1]); // no timer, no waiting for company
    const next = Array.from({ length: 9 }, (_, n) => confirmed(writer, row(A, n + 1)));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((batch) => batch.rows)).toEqual([1]); // free writers, but the tenant's commit is in flight: they wait for it
    await settled(Promise.all([first, ...next]));
    expect(batches.map((batch) => batch.rows)).toEqual([1, 9]);
  });

  it('confirms rows in queue order when a later batch of the tenant commits first (PUBACKs in each client\'s order)', async () => {
    const { db, timings } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 200, concurrency: 4 });
    const confirmedOrder: number[] = [];
    for (let n = 0; n < 300; n++) writer.write(row(A, n), () => confirmedOrder.push(n));
    await settled(writer.flush());
    expect(timings[1]!.end).toBeLessThan(timings[0]!.end); // 100 rows side by side with 200, done first
    expect(confirmedOrder).toEqual(Array.from({ length: 300 }, (_, n) => n));
  });

  it('a quiet tenant waits for one small commit, not behind a flooding tenant\'s backlog', async () => {
    const { db, batches } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, highWater: 5_000 });
    let floodDone = 0;
    for (let n = 0; n < 10_000; n++) writer.write(row(A, n), () => floodDone++);
    const quiet = new Promise<number>((resolve) => writer.write(row(B, 0), () => resolve(floodDone)));
    const floodConfirmedBeforeQuiet = await settled(quiet);
    expect(floodConfirmedBeforeQuiet).toBeLessThanOrEqual(2_000);
    expect(batches.every((batch) => batch.tenants.length === 1)).toBe(true);
    await settled(writer.flush());
    expect(floodDone).toBe(10_000);
  });

  it('never gives one tenant every writer: a row arriving during a flood finds one free at once', async () => {
    const { db } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000 });
    let floodDone = 0;
    for (let n = 0; n < 5_000; n++) writer.write(row(A, n), () => floodDone++);
    await vi.advanceTimersByTimeAsync(0); // the flood's batches are under way, and it is the only tenant queued
    await settled(confirmed(writer, row(B, 0)));
    expect(floodDone).toBe(0); // committed before the flood's first 1 000-row batch, not after it
    await settled(writer.flush());
    expect(floodDone).toBe(5_000);
  });

  it('writes one large batch at a time (bulkConcurrency 1) while small ones use the other writers', async () => {
    const { db, large } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, concurrency: 4, bulkConcurrency: 1 });
    const C = scopeFor('01a20000-0000-7000-8000-00000000000c');
    let floodDone = 0;
    for (let n = 0; n < 5_000; n++) {
      writer.write(row(A, n), () => floodDone++);
      writer.write(row(C, n), () => floodDone++);
    }
    await vi.advanceTimersByTimeAsync(0);
    await settled(confirmed(writer, row(B, 0)));
    expect(floodDone).toBeLessThanOrEqual(1_000); // the quiet row went past the floods' queue, on a free writer
    await settled(writer.flush());
    expect(floodDone).toBe(10_000);
    expect(large.most).toBe(1);
  });

  it('holds a tenant that writes alone to no bulk limit: it may use every writer but one', async () => {
    const { db, large } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, concurrency: 4, bulkConcurrency: 1 });
    for (let n = 0; n < 5_000; n++) writer.write(row(A, n));
    await settled(writer.flush());
    expect(large.most).toBe(3);
  });

  it('holds a heavy tenant to small batches while a light one writes, and only then', async () => {
    const { db, batches } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, maxBatchBesideLight: 100, bulkConcurrency: 1 });
    for (let n = 0; n < 3_000; n++) writer.write(row(A, n));
    await settled(writer.flush());
    expect(batches.map((batch) => batch.rows)).toEqual([1_000, 1_000, 1_000]); // alone: full batches

    batches.length = 0;
    for (let n = 0; n < 3_000; n++) writer.write(row(A, n));
    await settled(confirmed(writer, row(B, 0)));
    for (let n = 1; n < 5; n++) await settled(confirmed(writer, row(B, n)));
    await settled(writer.flush());
    const heavy = batches.filter((batch) => batch.tenants[0] === A).map((batch) => batch.rows);
    expect(heavy.slice(1, 5)).toEqual([100, 100, 100, 100]); // beside the light tenant (its first batch had started already)
    expect(heavy.reduce((sum, rows) => sum + rows, 0)).toBe(3_000);
  });

  // 50: a heavy tenant held to batches that small still counts as heavy (it is judged by what it has queued).
  for (const beside of [100, 50]) {
    it(`lets heavy tenants among themselves keep their large batches (held to ${beside} beside a light one)`, async () => {
      const { db, batches } = slowDatabase();
      const writer = writerFor(db, { maxBatch: 1_000, maxBatchBesideLight: beside, concurrency: 4 });
      for (let n = 0; n < 5_000; n++) {
        writer.write(row(A, n));
        writer.write(row(B, n));
      }
      await settled(writer.flush());
      const held = batches.filter((batch) => batch.rows === beside);
      expect(held.length).toBeLessThanOrEqual(1); // at most the first, before the other had shown itself heavy
      expect(batches.reduce((sum, batch) => sum + batch.rows, 0)).toBe(10_000);
    });
  }

  it('rests a heavy tenant beside a light one after each batch, for its share of the time, and wakes it when the rest is over', async () => {
    const { db, timings } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, maxBatchBesideLight: 200, heavyShareBesideLight: 0.25, concurrency: 4, bulkConcurrency: 1 });
    let heavyDone = 0;
    for (let n = 0; n < 2_000; n++) writer.write(row(A, n), () => heavyDone++);
    for (let n = 0; n < 5; n++) await settled(confirmed(writer, row(B, n)));
    await settled(writer.flush()); // the last rest ends with nothing else to start the queue again: its timer must
    expect(heavyDone).toBe(2_000);
    const heavy = timings.filter((t) => t.tenantId === A).slice(1); // its first batch started before B showed itself light
    for (let i = 1; i < heavy.length; i++) {
      // 25 %: each batch is followed by three times its length at rest (on the fake clock, exactly: no tolerance)
      expect(heavy[i]!.start - heavy[i - 1]!.end).toBeGreaterThanOrEqual(3 * (heavy[i - 1]!.end - heavy[i - 1]!.start));
    }
    expect(heavy.length).toBeGreaterThanOrEqual(5);
  });

  it('slows a heavy tenant at a lower high-water mark while a light one writes, and at the usual one alone', async () => {
    const { db } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, maxBatchBesideLight: 100, highWater: 5_000, highWaterBesideLight: 500, concurrency: 2, bulkConcurrency: 1 });
    let accepted = true;
    for (let n = 0; n < 3_000; n++) accepted &&= writer.write(row(A, n));
    expect(accepted).toBe(true); // alone: 3 000 queued is under 5 000
    await settled(writer.flush());

    for (let n = 0; n < 1_000; n++) writer.write(row(A, n));
    await settled(confirmed(writer, row(B, 0))); // B is light; A's batches since are held
    expect(writer.write(row(A, 0))).toBe(false); // ~900 queued: past 500
    await settled(writer.drained(A));
    expect(writer.write(row(A, 1))).toBe(true);
    await settled(writer.flush());
  });

  it('lets QoS 0 rows wait for company, but never a row whose publisher waits for its PUBACK', async () => {
    const { db, batches } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 1_000, maxDelayMs: 60_000, highWater: 5_000 });
    writer.write(row(A, 1));
    writer.write(row(A, 2));
    await vi.advanceTimersByTimeAsync(59_999); // all but the last millisecond of the 60 s they may wait
    expect(batches).toEqual([]);
    await settled(confirmed(writer, row(A, 3)));
    expect(batches).toEqual([{ tenants: [A], rows: 3 }]);
  });

  it('tells only the flooding tenant to slow down', async () => {
    const { db } = slowDatabase();
    const writer = writerFor(db, { maxBatch: 100, highWater: 300, concurrency: 1, bulkConcurrency: 1 });
    let accepted = true;
    for (let n = 0; n < 400; n++) accepted = writer.write(row(A, n));
    expect(accepted).toBe(false);
    expect(writer.write(row(B, 0))).toBe(true);
    await settled(writer.drained(A));
    await settled(writer.flush());
  });
});

describe('TelemetryWriter gathering publishers that answer their PUBACK at once', () => {
  /**
   * Publishers that each send `rounds` rows, the next `answerMs[i]` after the last was confirmed (mqtt-bench's loop), the
   * i-th stopping after `stopAfter[i]` rows if set. Answers each publisher's latencies (ms from write to confirmation).
   */
  async function closedLoop(writer: TelemetryWriter, answerMs: number[], rounds: number, stopAfter: (number | undefined)[] = []) {
    return settled(Promise.all(answerMs.map((ms, i) => new Promise<number[]>((resolve) => {
      const publisher = {};
      const latencies: number[] = [];
      const send = (n: number) => {
        const sentAt = performance.now();
        writer.write({ ...row(A, n), publisher }, () => {
          latencies.push(performance.now() - sentAt);
          if (n + 1 === (stopAfter[i] ?? rounds)) resolve(latencies);
          else setTimeout(() => send(n + 1), ms);
        });
      };
      send(0);
    }))));
  }
  /** How long each batch started after the one before it ended (ms). */
  const gaps = (timings: { start: number; end: number }[]) => timings.slice(1).map((timing, i) => timing.start - timings[i]!.end);

  it('commits prompt publishers together once they answer, instead of splitting them into alternating groups', async () => {
    const { db, batches } = slowDatabase(); // 1 ms a commit
    await closedLoop(writerFor(db, { maxBatch: 1_000 }), [1, 1, 2], 10);
    // Without the wait: 3, 2, 1, 2, 1, 2, 3, 2, 1, … (the first answer starts a commit, the rest queue behind it).
    expect(batches.map((batch) => batch.rows)).toEqual([3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 1]);
  });

  it('sends a full batch without waiting for the rest', async () => {
    const { db, timings, batches } = slowDatabase();
    await closedLoop(writerFor(db, { maxBatch: 2 }), [1, 1, 1, 1], 5);
    expect(batches.map((batch) => batch.rows)).toEqual(Array(10).fill(2));
    // Each batch starts as the one before ends, or 1 ms later (the fake clock's setImmediate): none waits for the others.
    expect(Math.max(...gaps(timings))).toBe(1);
  });

  it('never holds a lone publisher: each row starts its commit the moment it arrives', async () => {
    const { db } = slowDatabase();
    const [latencies] = await closedLoop(writerFor(db, { maxBatch: 1_000 }), [1], 5);
    // Its commit's 1 ms, plus 1 ms for the writer's setImmediate: the fake clock runs an immediate scheduled from a timer a
    // millisecond later (@sinonjs/fake-timers). Waiting for itself would have made it 3.
    expect(latencies).toEqual([1, 2, 2, 2, 2]);
  });

  it('waits at most two commits\' time for a prompt publisher that stops, then commits the others', async () => {
    const { db, timings, batches } = slowDatabase();
    await closedLoop(writerFor(db, { maxBatch: 1_000 }), [1, 1], 8, [undefined, 4]);
    expect(batches.reduce((sum, batch) => sum + batch.rows, 0)).toBe(12);
    // Between commits: the answer's 1 ms and the fake clock's 1 ms for setImmediate (above). Once, the wait for the stopped
    // publisher, which ends two commits (2 ms) after its confirmation.
    expect(gaps(timings).filter((gap) => gap !== 2)).toEqual([3]);
  });

  it('never waits for a publisher slower to answer than two commits (a sensor reporting periodically)', async () => {
    const { db } = slowDatabase();
    const [, fast] = await closedLoop(writerFor(db, { maxBatch: 1_000 }), [5, 1], 6);
    // At worst a commit in flight and its own: 2 ms. Waiting for the slow publisher would have made one 3 ms.
    expect(Math.max(...fast!)).toBeLessThanOrEqual(2);
  });
});
