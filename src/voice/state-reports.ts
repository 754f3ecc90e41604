import type { EventBus } from '../core/event-bus.js';
import { retryDelayMs, type RetryPolicy } from '../retry-delay.js';

/** What a voice platform is told about one device: the state fields that changed, and its presence if that changed. */
export type StateReport = { deviceId: string; state: Record<string, unknown>; online?: boolean };

/** Sends one tenant's reports; throws to have them kept and tried again later. */
export type SendReports = (tenantId: string, reports: StateReport[]) => Promise<void>;

export type StateReportOptions = {
  /** How long changes gather before they go out: a device reporting every 100 ms costs one call per interval. */
  intervalMs: number;
  retry: RetryPolicy;
  /** Devices waiting, over all tenants, past which the newest changes are dropped (a platform down for hours). */
  maxPending: number;
  onError: (tenantId: string, error: unknown) => void;
};

type Pending = { reports: Map<string, StateReport>; attempt: number; notBefore: number };

/**
 * State and presence changes on their way to a voice platform (Google's Home
 * Graph, Alexa's event gateway), coalesced per device: the device path only
 * merges into a map, and one timer sends each tenant's batch. A tenant whose
 * send fails keeps its batch (newer changes merged over it) and waits with
 * backoff; the other tenants go on.
 */
export class StateReportQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;
  private size = 0;
  private flushing: Promise<void> = Promise.resolve();

  constructor(events: EventBus, private readonly send: SendReports, private readonly options: StateReportOptions, private readonly now: () => number = Date.now) {
    events.on('device.state.changed', ({ tenantId, deviceId, state }) => this.merge(tenantId, { deviceId, state }), this);
    events.on('device.presence.changed', ({ tenantId, deviceId, online }) => this.merge(tenantId, { deviceId, state: {}, online }), this);
    this.timer = setInterval(() => void this.flush(), options.intervalMs).unref();
  }

  merge(tenantId: string, change: StateReport): void {
    const tenant = this.pending.get(tenantId) ?? { reports: new Map(), attempt: 0, notBefore: 0 };
    const earlier = tenant.reports.get(change.deviceId);
    if (!earlier && this.size >= this.options.maxPending) return;
    if (!earlier) this.size++;
    tenant.reports.set(change.deviceId, {
      deviceId: change.deviceId,
      state: { ...earlier?.state, ...change.state },
      ...(change.online ?? earlier?.online) !== undefined ? { online: change.online ?? earlier?.online } : {},
    });
    this.pending.set(tenantId, tenant);
  }

  /** Sends every tenant's batch that is due; resolves when they have all answered. */
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
    const due = [...this.pending].filter(([, tenant]) => tenant.notBefore <= now);
    await Promise.all(due.map(async ([tenantId, tenant]) => {
      this.pending.delete(tenantId);
      this.size -= tenant.reports.size;
      try {
        await this.send(tenantId, [...tenant.reports.values()]);
      } catch (error) {
        this.options.onError(tenantId, error);
        if (tenant.attempt + 1 >= this.options.retry.maxAttempts) return;
        const newer = this.pending.get(tenantId);
        const retry: Pending = { reports: tenant.reports, attempt: tenant.attempt + 1, notBefore: now + retryDelayMs(this.options.retry, tenant.attempt + 1) };
        this.pending.set(tenantId, retry);
        this.size += tenant.reports.size;
        for (const change of newer?.reports.values() ?? []) {
          this.size--;
          this.merge(tenantId, change);
        }
      }
    }));
  }
}
