import type { EventBus } from '../../../core/event-bus.js';
import { retryDelayMs, type RetryPolicy } from '../../../push/backoff.js';

export type SyncRequestOptions = { intervalMs: number; retry: RetryPolicy; onError: (tenantId: string, error: unknown) => void };

type Pending = { attempt: number; notBefore: number };

/**
 * Tenants whose device list changed, asked to sync at most once per interval
 * (registering a hundred devices is one requestSync), retried with backoff.
 */
export class SyncRequests {
  private readonly pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(events: EventBus, private readonly send: (tenantId: string) => Promise<void>, private readonly options: SyncRequestOptions, private readonly now: () => number = Date.now) {
    const changed = ({ tenantId }: { tenantId: string }) => void (this.pending.has(tenantId) || this.pending.set(tenantId, { attempt: 0, notBefore: 0 }));
    for (const event of ['device.registered', 'device.updated', 'device.removed'] as const) events.on(event, changed, this);
    this.timer = setInterval(() => void this.flush(), options.intervalMs).unref();
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.sendDue());
    return this.flushing;
  }

  async close(events: EventBus): Promise<void> {
    events.removeOwner(this);
    clearInterval(this.timer);
    await this.flushing;
  }

  private async sendDue(): Promise<void> {
    const now = this.now();
    const due = [...this.pending].filter(([, pending]) => pending.notBefore <= now);
    await Promise.all(due.map(async ([tenantId, { attempt }]) => {
      this.pending.delete(tenantId);
      try {
        await this.send(tenantId);
      } catch (error) {
        this.options.onError(tenantId, error);
        // A change that came meanwhile is asked for by this retry too.
        if (attempt + 1 < this.options.retry.maxAttempts) this.pending.set(tenantId, { attempt: attempt + 1, notBefore: now + retryDelayMs(this.options.retry, attempt + 1) });
      }
    }));
  }
}
