import type { Redis } from 'ioredis';

/**
 * Ids that may be admitted once until they expire: Alexa's request ids and the
 * forwarder's signatures, whose replay must be refused. Fleet-wide over Redis,
 * so a replay sent to another node is refused too.
 */
export interface SeenOnce {
  /** False when `id` was already admitted and has not expired; records it until `expiresAt` (ms) otherwise. */
  admit(id: string, now: number, expiresAt: number): boolean | Promise<boolean>;
}

/** One node's ids, bounded: at `max` the oldest go first. */
export class MemorySeenOnce implements SeenOnce {
  private readonly seen = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  admit(id: string, now: number, expiresAt: number): boolean {
    for (const [key, until] of this.seen) {
      // Insertion order is roughly expiry order: stop at the first live one.
      if (until > now && this.seen.size < this.max) break;
      this.seen.delete(key);
    }
    if ((this.seen.get(id) ?? 0) > now) return false;
    this.seen.set(id, expiresAt);
    return true;
  }
}

/**
 * The fleet's ids: one `SET NX PX` per admission. While Redis is unreachable
 * the node falls back to its own ids, so a replay to the same node is still
 * refused, and one to another node meets the command's idempotency key in
 * Postgres: it is answered, but acts once.
 */
export class RedisSeenOnce implements SeenOnce {
  private readonly fallback = new MemorySeenOnce();
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async admit(id: string, now: number, expiresAt: number): Promise<boolean> {
    if (this.redis.status === 'ready') {
      try {
        return (await this.redis.set(`${this.prefix}${id}`, '1', 'PX', Math.max(1, expiresAt - now), 'NX')) === 'OK';
      } catch {
        // answered below, by this node alone
      }
    }
    return this.fallback.admit(id, now, expiresAt);
  }
}
