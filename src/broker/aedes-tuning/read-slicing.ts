import type { Client } from 'aedes';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Fifo } from './fifo.js';

/** The parts of an aedes 1.2 client this module relies on (checked when installed). */
type ClientInternals = {
  conn: Duplex;
  _parser: { parse(buffer: Buffer): unknown };
  _parsingBatch: number;
  _nextBatch: () => void;
};

/**
 * Shares the event loop between connections that have a backlog.
 *
 * aedes reads everything a connection has buffered (up to ~80 KiB, ~600
 * telemetry messages) and handles it in one go. Under a flood one event-loop
 * turn then runs tens of milliseconds of one tenant's messages while a quiet
 * tenant's message, and the database reply that would acknowledge it, wait.
 *
 * Here a connection with at most one slice buffered is served at once, as
 * before. A backlogged one is handed a slice at a time: while this turn's
 * budget lasts it reads on, otherwise it queues, and the queue is served in
 * the check phase, in arrival order, one budget per turn. Between two turns
 * every other connection and every database reply gets its go.
 */
export class ReadScheduler {
  private readonly waiting = new Fifo<() => void>();
  private turnStartedAt = performance.now();
  private scheduled = false;

  constructor(private readonly sliceBytes: number, private readonly budgetMs: number) {}

  /** Installs slicing on one aedes client; call before its first read. */
  slice(client: Client): void {
    const internals = client as unknown as ClientInternals;
    const { conn, _parser: parser } = internals;
    if (typeof parser?.parse !== 'function' || typeof internals._nextBatch !== 'function' || typeof internals._parsingBatch !== 'number') {
      throw new Error('aedes client internals changed: review src/broker/read-slicing.ts before upgrading it');
    }
    const { sliceBytes } = this;
    let parsing = false;
    let queued = false;
    /** Its turn came in `serve`: the next slice is read whatever the clock says. */
    let granted = false;
    const resume = () => {
      queued = false;
      granted = true;
      internals._nextBatch();
      granted = false;
    };
    const wait = () => {
      if (queued) return;
      queued = true;
      this.waiting.push(resume);
      this.schedule();
    };

    const read = conn.read;
    conn.read = ((size?: number | null) => {
      // aedes reads again as soon as a packet is handled, even inside the parse of the
      // slice that carried it; the parser is not re-entrant, so that read waits (below).
      if (parsing) return null;
      if (size != null || conn.readableLength <= sliceBytes) return read.call(conn, size ?? undefined) as unknown;
      if (!granted && !this.withinBudget()) {
        wait();
        return null;
      }
      granted = false;
      return read.call(conn, sliceBytes) as unknown;
    }) as Duplex['read'];

    const parse = parser.parse;
    parser.parse = function slicedParse(this: unknown, buffer: Buffer) {
      parsing = true;
      try {
        return parse.call(this, buffer);
      } finally {
        parsing = false;
        // Every packet of the slice was handled during the parse: nothing else will ask for the next one.
        if (internals._parsingBatch === 0 && conn.readableLength > 0) wait();
      }
    };
  }

  private withinBudget(): boolean {
    return performance.now() - this.turnStartedAt < this.budgetMs;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.serve());
  }

  /** Check phase: a new turn's budget, spent on the queue in arrival order; at least one is served. */
  private serve(): void {
    this.scheduled = false;
    this.turnStartedAt = performance.now();
    let count = this.waiting.length;
    if (count === 0) return;
    do this.waiting.shift()!();
    while (--count > 0 && this.withinBudget());
    if (this.waiting.length > 0) this.schedule();
  }
}
