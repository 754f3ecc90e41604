import type { EmittedPacket, Fleet, FleetHealth, MessageEmitter, ShareTurns } from './fleet.js';
import { MemorySeenOnce } from './seen-once.js';

const HEALTH: FleetHealth = { mode: 'single', degraded: false };
/** The only node takes every message. */
const ALL_MINE: ShareTurns = { members: () => undefined, mine: () => true, close: () => undefined };

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

  shareTurns(_tenantId: string): ShareTurns {
    return ALL_MINE;
  }

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
