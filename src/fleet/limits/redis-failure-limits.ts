import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { lockedOut, type FailureLimits, type LimitRule } from '../../auth/failure-limiter.js';

/** Lockout keys name an account, a client, an MQTT username or an address, before any tenant is known: they are the platform's. */
export const LOCKOUT_PREFIX = 'gh:lockout';

/**
 * Brute-force lockouts shared by the fleet, with rate-limiter-flexible's
 * RateLimiterRedis: per kind of key (account, ip, client, mqtt) a counter of
 * failures whose window opens with the first failure, and which, at the
 * failure that reaches the rule's maximum, blocks the key for its lock time
 * (points = maxFailures - 1: the counter is refused, so blocked, one past
 * them). The in-process FailureLimiter's window slides; this one is fixed from
 * the first failure, which locks no later than it. A guess on any node counts
 * on every node. While Redis is unreachable each node counts alone (the
 * insurance limiter), so the lockout then holds per node.
 */
export class RedisFailureLimits implements FailureLimits {
  private readonly limiters = new Map<string, RateLimiterRedis>();

  constructor(redis: Redis, rules: Record<string, LimitRule>, private readonly onLockout: (key: string) => void = () => undefined) {
    for (const [kind, rule] of Object.entries(rules)) {
      const shape = { points: Math.max(0, rule.maxFailures - 1), duration: Math.ceil(rule.windowMs / 1000), blockDuration: Math.ceil(rule.lockMs / 1000) };
      this.limiters.set(kind, new RateLimiterRedis({
        // The key keeps its kind (`mqtt:<username>`): gh:lockout:mqtt:<username>.
        storeClient: redis, keyPrefix: LOCKOUT_PREFIX, rejectIfRedisNotReady: true, ...shape,
        insuranceLimiter: new RateLimiterMemory(shape),
      }));
    }
  }

  async assertAllowed(keys: readonly string[]): Promise<void> {
    const waits = await Promise.all(keys.map(async (key) => {
      const limiter = this.limiterOf(key);
      const state = limiter ? await limiter.get(key).catch(() => null) : null;
      return state && state.consumedPoints > limiter!.points ? state.msBeforeNext : 0;
    }));
    const wait = Math.max(0, ...waits);
    if (wait > 0) throw lockedOut(wait);
  }

  async recordFailure(keys: readonly string[]): Promise<string[]> {
    const locked: string[] = [];
    await Promise.all(keys.map(async (key) => {
      const limiter = this.limiterOf(key);
      if (!limiter) return;
      try {
        await limiter.consume(key);
      } catch (refusal) {
        // Refused at the failure that crossed the limit: that one locked the key (later ones find it locked).
        if (refusal instanceof RateLimiterRes && refusal.consumedPoints === limiter.points + 1) locked.push(key);
      }
    }));
    locked.forEach(this.onLockout);
    return locked;
  }

  async recordSuccess(key: string): Promise<void> {
    const limiter = this.limiterOf(key);
    if (!limiter) return;
    const state = await limiter.get(key).catch(() => null);
    if (state && state.consumedPoints <= limiter.points) await limiter.delete(key).catch(() => undefined);
  }

  private limiterOf(key: string): RateLimiterRedis | undefined {
    return this.limiters.get(key.slice(0, key.indexOf(':')));
  }
}
