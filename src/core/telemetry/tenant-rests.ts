import { performance } from 'node:perf_hooks';

/**
 * Tenants told to rest for a while, and one timer for the earliest rest to
 * end. It calls `wake` then, so that a rested tenant's queue is never left
 * waiting for a write that may not come.
 */
export class TenantRests {
  private readonly until = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly wake: () => void) {}

  /** Rests under a millisecond are not worth a timer. */
  rest(tenantId: string, ms: number): void {
    if (ms < 1) return;
    this.until.set(tenantId, performance.now() + ms);
    this.arm();
  }

  isResting(tenantId: string): boolean {
    const until = this.until.get(tenantId);
    if (until === undefined) return false;
    if (until > performance.now()) return true;
    this.until.delete(tenantId);
    return false;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.until.size === 0) return;
    const earliest = Math.min(...this.until.values());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      for (const [tenantId, until] of this.until) if (until <= now) this.until.delete(tenantId);
      this.arm();
      this.wake();
    }, Math.max(0, earliest - performance.now()));
  }
}
