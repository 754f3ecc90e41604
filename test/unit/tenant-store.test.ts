import { describe, expect, it } from 'vitest';
import { MemoryTenantStores, TenantStore } from '../../src/broker/tenant-store.js';

type Packet = Parameters<TenantStore['storeRetained']>[0];
type Client = Parameters<TenantStore['cleanIncoming']>[0];

const client = (id: string) => ({ id }) as Client;
const publish = (topic: string, payload: string, extra: object = {}) =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, brokerId: 'b', brokerCounter: 1, ...extra }) as unknown as Packet;

async function retained(store: TenantStore, patterns: string[]): Promise<string[]> {
  const topics: string[] = [];
  for await (const packet of store.createRetainedStreamCombi(patterns)) topics.push((packet as { topic: string }).topic);
  return topics;
}

/** What a tenant's store must answer before it is dropped: does losing it lose anything? */
describe('TenantStore', () => {
  async function store(): Promise<TenantStore> {
    const s = new TenantStore();
    await s.setup({ id: 'broker-1' });
    return s;
  }

  it('holds nothing when new', async () => {
    expect(await (await store()).holdsState()).toBe(false);
  });

  it('holds a persistent session\'s subscriptions until they are removed', async () => {
    const s = await store();
    await s.addSubscriptions(client('c'), [{ topic: 'a/b', qos: 0 }] as never);
    expect(await s.holdsState()).toBe(true);
    await s.removeSubscriptions(client('c'), ['a/b'] as never);
    expect(await s.holdsState()).toBe(false);
  });

  it('holds a queued message until it is acknowledged', async () => {
    const s = await store();
    await s.outgoingEnqueueCombi([{ clientId: 'c' }], publish('a/b', 'x'));
    expect(await s.holdsState()).toBe(true);
    await s.outgoingUpdate(client('c'), publish('a/b', 'x', { messageId: 7 }));
    await s.outgoingClearMessageId(client('c'), publish('a/b', 'x', { messageId: 7 }));
    expect(await s.holdsState()).toBe(false);
  });

  it('holds an incoming QoS 2 packet until its PUBREL, or until the session is cleaned', async () => {
    const s = await store();
    await s.incomingStorePacket(client('c'), publish('a/b', 'x', { qos: 2, messageId: 1 }));
    await s.incomingStorePacket(client('c'), publish('a/b', 'y', { qos: 2, messageId: 2 }));
    await s.incomingDelPacket(client('c'), publish('a/b', 'x', { messageId: 1 }));
    expect(await s.holdsState()).toBe(true);
    await s.cleanIncoming(client('c'));
    expect(await s.holdsState()).toBe(false);
  });

  it('holds a will while it is stored', async () => {
    const s = await store();
    await s.putWill(client('c'), publish('a/will', 'gone'));
    expect(await s.holdsState()).toBe(true);
    await s.delWill(client('c'));
    expect(await s.holdsState()).toBe(false);
  });

  it('holds retained messages, but not its instance\'s $SYS statistics, which end with the instance', async () => {
    const s = await store();
    await s.storeRetained(publish('$SYS/broker/uptime', '5'));
    expect(await s.holdsState()).toBe(false);
    await s.storeRetained(publish('doors/front', 'locked'));
    expect(await s.holdsState()).toBe(true);
    await s.endInstance();
    expect(await retained(s, ['$SYS/#', 'doors/#'])).toEqual(['doors/front']);
    await s.storeRetained(publish('doors/front', ''));
    expect(await s.holdsState()).toBe(false);
  });

  it('gives a subscription that starts with a wildcard no $ topic [MQTT-4.7.2-1]', async () => {
    const s = await store();
    await s.storeRetained(publish('$SYS/broker/uptime', '5'));
    await s.storeRetained(publish('doors/front', 'locked'));
    expect(await retained(s, ['#'])).toEqual(['doors/front']);
    expect(await retained(s, ['+/broker/uptime'])).toEqual([]);
    expect(await retained(s, ['$SYS/#', '#'])).toEqual(['$SYS/broker/uptime', 'doors/front']);
  });

  it('is not ended by aedes: destroy leaves it usable', async () => {
    const s = await store();
    await s.storeRetained(publish('doors/front', 'locked'));
    await s.destroy();
    expect(await retained(s, ['doors/#'])).toEqual(['doors/front']);
  });
});

/** What tenant-brokers.ts asks of the single-node stores between a tenant's instances. */
describe('MemoryTenantStores', () => {
  it('gives the tenant\'s next instance the store its last one left, while that store holds anything', async () => {
    const stores = new MemoryTenantStores();
    const first = stores.forInstance('t1').store as TenantStore;
    await first.setup({ id: 'broker-1' });
    await first.storeRetained(publish('doors/front', 'locked'));
    await first.storeRetained(publish('$SYS/broker/uptime', '5'));
    await stores.released('t1', first);
    expect(stores.withState).toBe(1);
    expect(stores.forInstance('t1').store).toBe(first);
    expect(await retained(first, ['#', '$SYS/#'])).toEqual(['doors/front']);

    await first.storeRetained(publish('doors/front', ''));
    await stores.released('t1', first);
    expect(stores.withState).toBe(0);
    expect(stores.forInstance('t1').store).not.toBe(first);
  });

  it('forgets a store made for an instance that never started, and keeps one that held state', async () => {
    const stores = new MemoryTenantStores();
    stores.forInstance('t1').unused();
    expect(stores.withState).toBe(0);

    const kept = stores.forInstance('t2').store as TenantStore;
    await kept.setup({ id: 'broker-1' });
    await kept.putWill(client('c'), publish('a/will', 'gone'));
    await stores.released('t2', kept);
    stores.forInstance('t2').unused();
    expect(stores.withState).toBe(1);
  });
});
