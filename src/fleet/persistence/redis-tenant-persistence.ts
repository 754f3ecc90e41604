import AsyncRedisPersistence from 'aedes-persistence-redis/asyncPersistence.js';
import type { Redis } from 'ioredis';
import { Readable } from 'node:stream';
import { InstanceStatistics, retainedWithoutDollarTopics } from '../../broker/tenant-store.js';
import { lockKey } from './keys.js';

type Packet = Parameters<AsyncRedisPersistence['storeRetained']>[0];
type Client = Parameters<AsyncRedisPersistence['cleanIncoming']>[0];
type Brokers = Parameters<AsyncRedisPersistence['streamWill']>[0];

const WILLS = 'will';

/**
 * One tenant's MQTT state in Redis for one aedes instance: aedes-persistence-redis
 * over the tenant's prefixed view of the node's shared connection
 * (prefixed-connection.ts), so it reads and writes `gh:{<tenantId>}:…` only.
 *
 * A new one is made for each instance: setup() loads the tenant's persistent
 * subscriptions from Redis, which is where every node keeps them, so nothing
 * is held in this process between instances and an idle instance can always
 * be released (redis-tenant-stores.ts).
 *
 * What it adds to aedes-persistence-redis:
 * - wills follow the takeover lock (takeover-locks.ts): a will is not
 *   published while its client id is locked, i.e. connected somewhere in the
 *   fleet, and a client that connects drops the wills that other instances
 *   (a crashed node's) stored for its id: a stale will is never published
 *   after the client came back elsewhere;
 * - retained `$` topics are kept from wildcard-first patterns, as TenantStore does;
 * - the instance's retained `$SYS/` statistics end with it, as TenantStore's do.
 */
export class RedisTenantPersistence extends AsyncRedisPersistence {
  private readonly statistics = new InstanceStatistics();

  constructor(private readonly db: Redis, options: { maxSessionDelivery?: number } = {}) {
    super({ conn: db, ...options });
  }

  override async storeRetained(packet: Packet): Promise<void> {
    this.statistics.noted(packet);
    await super.storeRetained(packet);
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    return retainedWithoutDollarTopics(patterns, (some) => super.createRetainedStreamCombi(some));
  }

  /**
   * aedes deletes a connecting client's will (then stores its new one) with
   * the client itself, `connecting` set; a will ending with a connection
   * comes as `{ id, brokerId }`. A connecting client holds the takeover lock
   * of its id, so any will another instance stored for that id is stale.
   */
  override async delWill(client: Client): Promise<Awaited<ReturnType<AsyncRedisPersistence['delWill']>>> {
    const will = await super.delWill(client);
    if ((client as { connecting?: boolean }).connecting === true) await this.dropWillsOf(client.id);
    return will;
  }

  /** A stream, as the memory store gives (aedes-persistence-redis gives an async generator, which has no highWaterMark). */
  override outgoingStream(client: Client): Readable {
    return Readable.from(super.outgoingStream(client) as unknown as AsyncIterable<unknown>);
  }

  override streamWill(brokers?: Brokers): Readable {
    const db = this.db;
    const wills = super.streamWill(brokers) as unknown as AsyncIterable<{ clientId: string }>;
    async function* unlocked() {
      for await (const will of wills) {
        if ((await db.exists(lockKey(will.clientId))) === 0) yield will;
      }
    }
    return Readable.from(unlocked());
  }

  /** Removes the retained statistics of an instance that has been released: the next one publishes its own. */
  async endInstance(): Promise<void> {
    await this.statistics.remove(this);
  }

  /** The wills stored for `clientId` by any instance (entries `will:<brokerId>:<encoded id>`; the encoded id has no colon). */
  private async dropWillsOf(clientId: string): Promise<void> {
    const suffix = `:${encodeURIComponent(clientId)}`;
    for (const entry of await this.db.lrange(WILLS, 0, -1)) {
      if (!entry.endsWith(suffix) || entry.split(':').length !== 3) continue;
      await this.db.lrem(WILLS, 0, entry);
      await this.db.del(entry);
    }
  }
}
