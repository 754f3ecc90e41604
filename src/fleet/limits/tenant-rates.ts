/** A tenant's messages and payload bytes per second, fleet-wide; 0 is no limit. */
export type TenantRateLimits = { messagesPerSecond: number; bytesPerSecond: number };

/**
 * Per-tenant message and byte rates, asked for every PUBLISH: answered
 * synchronously from what this node knows, never by a round trip. On a single
 * node that is everything (LocalTenantRates, below); in a fleet the other
 * nodes' counts arrive in batches (redis-tenant-rates.ts).
 */
export interface TenantRates {
  /** Counts one message of `bytes`; false when the tenant is over either rate this second (the message is not counted). */
  take(tenantId: string, bytes: number): boolean;
  close(): Promise<void>;
}

type Window = { second: number; messages: number; bytes: number };

/** A window per second per tenant; whether a tenant is over is known only here. */
export class LocalTenantRates implements TenantRates {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly limits: TenantRateLimits, private readonly now: () => number = Date.now) {}

  take(tenantId: string, bytes: number): boolean {
    const { messagesPerSecond, bytesPerSecond } = this.limits;
    if (messagesPerSecond === 0 && bytesPerSecond === 0) return true;
    const second = Math.floor(this.now() / 1000);
    let window = this.windows.get(tenantId);
    if (!window || window.second !== second) {
      // A new second: the tenants that were quiet in the last are forgotten with it.
      if (window === undefined && this.windows.size > 10_000) this.forgetBefore(second);
      window = { second, messages: 0, bytes: 0 };
      this.windows.set(tenantId, window);
    }
    if (!withinRates(this.limits, window.messages + 1, window.bytes + bytes)) return false;
    window.messages++;
    window.bytes += bytes;
    return true;
  }

  async close(): Promise<void> {}

  private forgetBefore(second: number): void {
    for (const [tenantId, window] of this.windows) if (window.second < second) this.windows.delete(tenantId);
  }
}

export function withinRates(limits: TenantRateLimits, messages: number, bytes: number): boolean {
  return (limits.messagesPerSecond === 0 || messages <= limits.messagesPerSecond) && (limits.bytesPerSecond === 0 || bytes <= limits.bytesPerSecond);
}
