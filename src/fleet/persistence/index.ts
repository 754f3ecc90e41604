import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ClientLocks } from '../../broker/broker-context.js';
import type { TenantStores } from '../../broker/tenant-store.js';
import type { Logger } from '../../logger.js';
import { coalesceWrites } from '../../write-coalescing.js';
import { RedisDropChannel, type DropChannel } from './drop-channel.js';
import { RedisTenantStores } from './redis-tenant-stores.js';
import { DEFAULT_TAKEOVER, TakeoverLocks, type TakeoverOptions } from './takeover-locks.js';

export { RedisTenantStores } from './redis-tenant-stores.js';
export { RedisTenantPersistence } from './redis-tenant-persistence.js';
export { TakeoverLocks, TakeoverRefused, DEFAULT_TAKEOVER, type TakeoverOptions } from './takeover-locks.js';
export { RedisDropChannel, type DropChannel, type DropRequest } from './drop-channel.js';
export { prefixedConnection } from './prefixed-connection.js';
export { tenantKeyPrefix } from './keys.js';

/** What the MQTT broker of a node in a fleet takes from here: where sessions live, and one connection per client id. */
export type FleetSessions = {
  nodeId: string;
  stores: TenantStores;
  clientLocks: ClientLocks;
  close(): Promise<void>;
};

/**
 * Sessions that move between nodes: the tenants' stores on `redis` (the node's
 * one shared command connection) and the takeover locks, whose drop requests
 * travel on `channel` (by default Redis pub/sub on `subscriber`, a connection
 * in subscriber mode).
 */
export async function startFleetSessions(deps: {
  redis: Redis;
  channel: DropChannel;
  log: Logger;
  nodeId?: string;
  takeover?: Partial<TakeoverOptions>;
}): Promise<FleetSessions> {
  const nodeId = deps.nodeId ?? randomUUID();
  const locks = new TakeoverLocks(deps.redis, deps.channel, nodeId, deps.log.child({ component: 'takeover' }), { ...DEFAULT_TAKEOVER, ...deps.takeover });
  await locks.start();
  return { nodeId, stores: new RedisTenantStores(deps.redis), clientLocks: locks, close: () => locks.close() };
}

/**
 * The same, on connections of its own to `url` (a command connection and a
 * subscriber): until the fleet seam (src/fleet) hands its shared ones over.
 */
export async function connectFleetSessions(url: string, log: Logger, takeover?: Partial<TakeoverOptions>): Promise<FleetSessions> {
  const redis = new Redis(url, { lazyConnect: true, enableAutoPipelining: false });
  // Each tenant's prefixed view sends its commands one by one: a turn's commands leave in one write (write-coalescing.ts).
  redis.on('connect', () => coalesceWrites(redis.stream));
  const subscriber = redis.duplicate();
  // The fleet's own connections say when Redis is lost and back (once each); without a listener ioredis would print every retry.
  for (const connection of [redis, subscriber]) connection.on('error', (error: Error) => log.debug({ err: error.message }, 'fleet sessions: Redis connection error'));
  try {
    await redis.connect();
    await subscriber.connect();
    const sessions = await startFleetSessions({ redis, channel: new RedisDropChannel(redis, subscriber), log, takeover });
    return {
      ...sessions,
      async close() {
        await sessions.close();
        redis.disconnect();
        subscriber.disconnect();
      },
    };
  } catch (error) {
    redis.disconnect();
    subscriber.disconnect();
    throw error;
  }
}
