import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import type { IPublishPacket } from 'mqtt-packet';
import { Readable } from 'node:stream';

type Packet = Parameters<MemoryPersistence['storeRetained']>[0];
type Client = Parameters<MemoryPersistence['cleanIncoming']>[0];

const SYS_PREFIX = '$SYS/';
const EMPTY = Buffer.alloc(0);

/**
 * One tenant's MQTT state (persistent sessions' subscriptions, queued QoS 1/2
 * messages, incoming QoS 2 packets, retained messages, wills), kept apart from
 * its aedes instance so that the instance can be released while the tenant is
 * idle and a later one picks up where it left off (tenant-brokers.ts).
 *
 * It is aedes-persistence's memory store, plus what that store cannot answer:
 * whether it holds anything at all. The store keeps its maps private and cannot
 * list incoming packets or outgoing queues, so this class notes which clients
 * it filled them for and asks about those when the question comes.
 */
export class TenantStore extends MemoryPersistence {
  /** Incoming QoS 2 packets awaiting PUBREL, by client (the store has no way to list them). */
  private readonly incoming = new Map<string, Set<number>>();
  /** Clients a message was ever queued for (the store lists one client's queue at a time). */
  private readonly queuedFor = new Set<string>();
  private readonly statistics = new InstanceStatistics();

  /**
   * The store remembers its broker to stamp wills with the broker's id. It is
   * given only that id: holding the aedes instance itself would keep a
   * released instance in memory for as long as the tenant keeps any state.
   */
  override async setup(broker: { id: string }): Promise<void> {
    await super.setup({ id: broker.id });
  }

  /** aedes must not end a store that outlives it; forgetting the whole object is how it ends. */
  override async destroy(): Promise<void> {}

  override async storeRetained(packet: Packet): Promise<void> {
    this.statistics.noted(packet);
    await super.storeRetained(packet);
  }

  /**
   * aedes keeps `$` topics from subscriptions that start with a wildcard when
   * it forwards, but not when it sends retained messages: without this, `#`
   * would receive the retained `$SYS/` statistics [MQTT-4.7.2-1].
   */
  override createRetainedStreamCombi(patterns: string[]): Readable {
    return retainedWithoutDollarTopics(patterns, (some) => super.createRetainedStreamCombi(some));
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: Packet): Promise<void> {
    this.queuedFor.add(sub.clientId);
    await super.outgoingEnqueue(sub, packet);
  }

  override async outgoingEnqueueCombi(subs: { clientId: string }[], packet: Packet): Promise<void> {
    for (const sub of subs) this.queuedFor.add(sub.clientId);
    await super.outgoingEnqueueCombi(subs, packet);
  }

  override async incomingStorePacket(client: Client, packet: Packet): Promise<void> {
    await super.incomingStorePacket(client, packet);
    let ids = this.incoming.get(client.id);
    if (!ids) this.incoming.set(client.id, (ids = new Set()));
    ids.add(packet.messageId!);
  }

  override async incomingDelPacket(client: Client, packet: Packet): Promise<void> {
    await super.incomingDelPacket(client, packet);
    const ids = this.incoming.get(client.id);
    ids?.delete(packet.messageId!);
    if (ids?.size === 0) this.incoming.delete(client.id);
  }

  override async cleanIncoming(client: Client): Promise<void> {
    await super.cleanIncoming(client);
    this.incoming.delete(client.id);
  }

  /** Removes the retained statistics of an instance that has been released: the next one publishes its own. */
  async endInstance(): Promise<void> {
    await this.statistics.remove(this);
  }

  /** Whether anything would be lost if this store were dropped (`$SYS/` statistics do not count). */
  async holdsState(): Promise<boolean> {
    if (this.incoming.size > 0) return true;
    if ((await this.countOffline()).clientsCount > 0) return true;
    if (await any(this.streamWill(), () => true)) return true;
    if (await any(this.createRetainedStream('#'), (packet) => !(packet as IPublishPacket).topic.startsWith(SYS_PREFIX))) return true;
    for (const clientId of [...this.queuedFor]) {
      if (await any(this.outgoingStream({ id: clientId } as Client), () => true)) return true;
      this.queuedFor.delete(clientId);
    }
    return false;
  }
}

/**
 * Retained `$SYS/` statistics of a store's current instance: they describe it,
 * so they end with it (shared by the Redis store, src/fleet/persistence).
 */
export class InstanceStatistics {
  private readonly topics = new Set<string>();

  /** A retained message being stored: a statistic is noted, or forgotten when cleared. */
  noted(packet: Packet): void {
    const { topic, payload } = packet as IPublishPacket;
    if (!topic.startsWith(SYS_PREFIX)) return;
    if (payload.length === 0) this.topics.delete(topic);
    else this.topics.add(topic);
  }

  /** Clears them from the store: the next instance publishes its own. */
  async remove(store: { storeRetained(packet: Packet): Promise<void> }): Promise<void> {
    for (const topic of [...this.topics]) await store.storeRetained({ topic, payload: EMPTY } as Packet);
  }
}

/**
 * A store's retained messages for `patterns`, less the `$` topics matched by
 * patterns that start with a wildcard (shared by the Redis store, src/fleet/persistence).
 */
export function retainedWithoutDollarTopics(patterns: string[], stream: (patterns: string[]) => AsyncIterable<unknown>): Readable {
  const named = stream(patterns.filter((pattern) => !wildcardFirst(pattern)));
  const wild = stream(patterns.filter(wildcardFirst));
  return Readable.from(withoutDollarTopics(named, wild));
}

function wildcardFirst(pattern: string): boolean {
  return pattern.startsWith('#') || pattern.startsWith('+');
}

async function* withoutDollarTopics(named: AsyncIterable<unknown>, wild: AsyncIterable<unknown>): AsyncGenerator<Packet> {
  yield* named as AsyncIterable<Packet>;
  for await (const packet of wild) if (!(packet as IPublishPacket).topic.startsWith('$')) yield packet as Packet;
}

async function any(stream: Readable, test: (packet: Packet) => boolean): Promise<boolean> {
  for await (const packet of stream) {
    if (test(packet as Packet)) {
      stream.destroy();
      return true;
    }
  }
  return false;
}

/** What a tenant's aedes instance runs on (`persistence:`): a TenantStore, or the Redis store of src/fleet/persistence. */
export type InstanceStore = MemoryPersistence;

/**
 * Where tenants' MQTT state lives between their aedes instances, as
 * tenant-brokers.ts asks it: in this process (MemoryTenantStores, below) or in
 * Redis (src/fleet/persistence/redis-tenant-stores.ts, which keeps nothing here).
 */
export interface TenantStores {
  /** The store for the tenant's next instance; `unused()` when that instance did not start. */
  forInstance(tenantId: string): { store: InstanceStore; unused(): void };
  /** The tenant's instance that ran on `store` has closed: what described it ends, and the tenant is forgotten if nothing is left. */
  released(tenantId: string, store: InstanceStore): Promise<void>;
  /** Tenants whose state this process keeps while they may have no instance. */
  readonly withState: number;
  clear(): void;
}

/** One TenantStore per tenant, kept while it holds anything (the single-node path). */
export class MemoryTenantStores implements TenantStores {
  private readonly stores = new Map<string, TenantStore>();

  get withState(): number {
    return this.stores.size;
  }

  forInstance(tenantId: string): { store: TenantStore; unused(): void } {
    const kept = this.stores.get(tenantId);
    const store = kept ?? new TenantStore();
    this.stores.set(tenantId, store);
    // A store made for an instance that never ran holds nothing.
    return { store, unused: () => !kept && this.stores.delete(tenantId) };
  }

  async released(tenantId: string, store: InstanceStore): Promise<void> {
    if (this.stores.get(tenantId) !== store) return;
    await (store as TenantStore).endInstance();
    if (!(await (store as TenantStore).holdsState())) this.stores.delete(tenantId);
  }

  clear(): void {
    this.stores.clear();
  }
}
