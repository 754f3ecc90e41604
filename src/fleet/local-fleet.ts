import type { EmittedPacket, Fleet, FleetHealth, MessageEmitter } from './fleet.js';
import { MemorySeenOnce } from './seen-once.js';

const HEALTH: FleetHealth = { mode: 'single', degraded: false };

/**
 * A fleet of one node (no REDIS_URL): nothing is shared, so each member is the
 * single-process path as it was before there was a fleet. A tenant's broker
 * routes with its own emitter as given, the core's bus has no channel.
 */
export class LocalFleet implements Fleet {
  readonly events = undefined;

  emitterFor(_tenantId: string, local: MessageEmitter): MessageEmitter {
    return local;
  }

  /** No other node: a tenant without a broker here has no one connected. */
  async publish(_tenantId: string, _packet: EmittedPacket): Promise<void> {}

  seenOnce(_kind: string): MemorySeenOnce {
    return new MemorySeenOnce();
  }

  health(): FleetHealth {
    return HEALTH;
  }

  counters(): undefined {
    return undefined;
  }

  async close(): Promise<void> {}
}
