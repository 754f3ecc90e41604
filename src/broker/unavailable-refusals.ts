import type { Logger } from '../logger.js';

export type UnavailableRefusal = { reason: string; transport: string; remoteAddress: string | undefined; err?: unknown };

/**
 * CONNECTs refused with "server unavailable" (CONNACK 3: the database is
 * down, the node is full, an unexpected failure) come in storms: every
 * device of every tenant retries. One line each, let alone a stack each,
 * buries the log and costs the CPU the recovery needs. The first refusal of
 * a storm is logged at once (with its error, if unexpected); the rest are
 * counted and logged as one line per interval while the storm lasts.
 */
export class UnavailableRefusals {
  private counted = 0;
  private last: UnavailableRefusal | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger, private readonly intervalMs = 10_000) {}

  refused(refusal: UnavailableRefusal): void {
    if (this.timer) {
      this.counted++;
      this.last = refusal;
      return;
    }
    const { err, ...fields } = refusal;
    this.log.warn({ ...fields, ...(err === undefined ? {} : { err }), intervalMs: this.intervalMs }, 'CONNECT refused: server unavailable (further refusals are counted)');
    this.arm();
  }

  private arm(): void {
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.counted === 0) return;
    this.log.warn({ count: this.counted, intervalMs: this.intervalMs, lastReason: this.last?.reason }, 'CONNECTs refused: server unavailable');
    this.counted = 0;
    this.last = undefined;
    this.arm();
  }
}
