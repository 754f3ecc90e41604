import { GatewayError } from '../core/errors.js';

export type LimitRule = { maxFailures: number; windowMs: number; lockMs: number };

/** What each kind of key tolerates. Accounts are guarded tighter than addresses (NAT puts many users behind one). */
export const DEFAULT_LIMITS: Record<string, LimitRule> = {
  account: { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  ip: { maxFailures: 50, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  client: { maxFailures: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  mqtt: { maxFailures: 10, windowMs: 5 * 60_000, lockMs: 5 * 60_000 },
};

type Entry = { failures: number[]; lockedUntil: number };

/**
 * Brute-force lockouts as logins, CONNECTs and token exchanges ask them: this
 * process's FailureLimiter (below, answering at once) on a single node, or the
 * fleet's in Redis (src/fleet/limits/redis-failure-limits.ts).
 */
export interface FailureLimits {
  /** Throws RATE_LIMITED if any key is locked. */
  assertAllowed(keys: readonly string[]): void | Promise<void>;
  /** Records a failure on every key; returns the keys this failure locked (and tells its onLockout). */
  recordFailure(keys: readonly string[]): string[] | Promise<string[]>;
  /** Forgets a key's failures once its owner succeeded (a lock stays). */
  recordSuccess(key: string): void | Promise<void>;
}

/** Makes the process's FailureLimits, telling `onLockout` of each key as it locks (the audit log writes a LOCKOUT event). */
export type FailureLimitsFactory = (onLockout: (key: string) => void) => FailureLimits;

/** The refusal of a locked key, `waitMs` before it unlocks. */
export function lockedOut(waitMs: number): GatewayError {
  const seconds = Math.ceil(waitMs / 1000);
  return new GatewayError('RATE_LIMITED', `Too many failed attempts; try again in ${seconds} s.`, { retryAfterSeconds: seconds });
}

const MAX_ENTRIES = 100_000;

/**
 * Brute-force protection for logins, MQTT CONNECTs and token exchanges: count
 * failures per key (`account:<email>`, `ip:<address>`, `client:<id>`…) in a
 * sliding window and lock a key that passes its limit. A key locks whether or
 * not the account exists, so a lockout says nothing about existence.
 * In-process; a fleet shares them through Redis (FailureLimits).
 */
export class FailureLimiter implements FailureLimits {
  private readonly entries = new Map<string, Entry>();

  /** `onLockout` hears of every key the moment it locks (the audit log writes a LOCKOUT event). */
  constructor(
    private readonly rules: Record<string, LimitRule> = DEFAULT_LIMITS,
    private readonly onLockout: (key: string) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws RATE_LIMITED if any key is locked. */
  assertAllowed(keys: readonly string[]): void {
    const wait = Math.max(0, ...keys.map((key) => (this.entries.get(key)?.lockedUntil ?? 0) - this.now()));
    if (wait > 0) throw lockedOut(wait);
  }

  /** Records a failure on every key; returns the keys this failure locked (and tells onLockout). */
  recordFailure(keys: readonly string[]): string[] {
    const now = this.now();
    const locked: string[] = [];
    for (const key of keys) {
      const rule = this.rules[key.slice(0, key.indexOf(':'))];
      if (!rule) continue;
      const entry = this.entries.get(key) ?? { failures: [], lockedUntil: 0 };
      entry.failures = entry.failures.filter((at) => now - at < rule.windowMs);
      entry.failures.push(now);
      if (entry.failures.length >= rule.maxFailures && entry.lockedUntil <= now) {
        entry.lockedUntil = now + rule.lockMs;
        entry.failures = [];
        locked.push(key);
      }
      this.entries.set(key, entry);
    }
    if (this.entries.size > MAX_ENTRIES) this.prune(now);
    locked.forEach(this.onLockout);
    return locked;
  }

  recordSuccess(key: string): void {
    const entry = this.entries.get(key);
    if (entry && entry.lockedUntil <= this.now()) this.entries.delete(key);
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries) if (entry.lockedUntil <= now && entry.failures.length === 0) this.entries.delete(key);
    // Still too many (an attack from many addresses): drop the oldest half rather than grow without bound.
    if (this.entries.size > MAX_ENTRIES) [...this.entries.keys()].slice(0, this.entries.size / 2).forEach((key) => this.entries.delete(key));
  }
}
