import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { ConnectionSlots, Slot } from './connection-slots.js';
import { limitKey } from './keys.js';
import { slotCommands, type SlotCommands } from './slot-scripts.js';

export type RedisSlotsOptions = {
  limit: number;
  /** How long a node's slots outlive its last renewal (renewed every third of it): the most a dead node holds them. */
  lifetimeMs: number;
  /** This node's field in each hash; distinct per process. */
  nodeId?: string;
};

/** What this node holds of one credential: its count, and takes sent whose answer has not come back. */
type Held = { key: string; count: number; taking: number };

/**
 * A credential's connection cap counted across the fleet (slot-scripts.ts says
 * how a dead node's slots run out). The node's own count is the truth about
 * its connections: each renewal writes it, so a release lost while Redis was
 * away, or Redis restarted empty, is corrected within a third of a lifetime.
 * A renewal waits for a credential's takes in flight (they would be counted
 * twice); commands go in order on one connection, so releases sent before it
 * are already in Redis's count.
 *
 * Without Redis the cap is decided here on this node's count alone (the fleet
 * is degraded: a credential may then hold the cap on each node), and written
 * to Redis by the next renewal once it is back.
 */
export class RedisConnectionSlots implements ConnectionSlots {
  private readonly redis: Redis & SlotCommands;
  private readonly held = new Map<string, Held>();
  private readonly node: string;
  private readonly timer: NodeJS.Timeout;

  constructor(redis: Redis, private readonly options: RedisSlotsOptions, private readonly log: Logger) {
    this.redis = slotCommands(redis);
    this.node = options.nodeId ?? randomUUID();
    this.timer = setInterval(() => void this.renew(), Math.max(100, Math.floor(options.lifetimeMs / 3)));
    this.timer.unref();
  }

  async take(tenantId: string, credentialId: string): Promise<Slot | undefined> {
    const key = limitKey(tenantId, 'conns', credentialId);
    const held = this.held.get(key) ?? { key, count: 0, taking: 0 };
    this.held.set(key, held);
    held.taking++;
    let taken: boolean;
    try {
      taken = (await this.redis.ghSlotTake(key, this.node, this.options.limit, this.options.lifetimeMs)) === 1;
    } catch (error) {
      // Redis unreachable: this node's own count decides (degraded), Redis learns of it at the next renewal.
      this.log.debug({ err: error, tenantId }, 'connection cap decided on this node alone: Redis unreachable');
      taken = held.count < this.options.limit;
    } finally {
      held.taking--;
    }
    if (!taken) {
      this.forgetIfIdle(held);
      return undefined;
    }
    held.count++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        held.count--;
        this.forgetIfIdle(held);
        this.redis.ghSlotRelease(key, this.node).catch(() => undefined);
      },
    };
  }

  /** Every credential this node holds, its count for another lifetime, in one pipeline. */
  async renew(): Promise<void> {
    if (this.held.size === 0 || this.redis.status !== 'ready') return;
    const pipeline = this.redis.pipeline() as unknown as SlotCommands & { exec(): Promise<unknown> };
    for (const held of this.held.values()) {
      if (held.taking === 0) void pipeline.ghSlotRenew(held.key, this.node, held.count, this.options.lifetimeMs);
    }
    await pipeline.exec().catch((error: unknown) => this.log.debug({ err: error }, 'renewing connection slots failed; retried'));
  }

  /** Gives back what this node still holds (its connections are closed by now). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.held.size === 0 || this.redis.status !== 'ready') return;
    const pipeline = this.redis.pipeline();
    for (const held of this.held.values()) pipeline.hdel(held.key, this.node);
    this.held.clear();
    await pipeline.exec().catch(() => undefined);
  }

  private forgetIfIdle(held: Held): void {
    if (held.count <= 0 && held.taking === 0) this.held.delete(held.key);
  }
}
