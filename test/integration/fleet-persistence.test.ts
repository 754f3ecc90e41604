import assert from 'node:assert';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import mqemitter from 'mqemitter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantKeyPrefix } from '../../src/fleet/persistence/keys.js';
import { prefixedConnection } from '../../src/fleet/persistence/prefixed-connection.js';
import { RedisTenantPersistence } from '../../src/fleet/persistence/redis-tenant-persistence.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

type NodeTestContext = { plan(count: number): void; diagnostic(message: string): void; assert: typeof assert };
type AbstractSuite = (options: { test: (name: string, body: (t: NodeTestContext) => Promise<void>) => void; persistence: () => unknown; testAsync: true }) => void;
const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js') as AbstractSuite;

let redis: RedisServer;
let shared: Redis;

beforeAll(async () => {
  redis = await startRedisServer();
  shared = new Redis(redis.url, { lazyConnect: true });
  await shared.connect();
});

afterAll(async () => {
  shared?.disconnect();
  await redis?.close();
});

/** One tenant's persistence on the node's one shared connection. */
function tenantPersistence(tenantId: string = randomUUID()): RedisTenantPersistence {
  return new RedisTenantPersistence(prefixedConnection(shared, tenantKeyPrefix(tenantId)));
}

/**
 * aedes-persistence's own abstract suite (written for node:test), each test on
 * a tenant of its own: a fresh key prefix is a fresh, empty store, on the
 * same shared connection. `t.plan(n)` is checked as node:test checks it.
 */
describe('aedes-persistence abstract suite, on a tenant-prefixed view of one shared connection', () => {
  abstractPersistence({
    testAsync: true,
    persistence: () => tenantPersistence(),
    test: (name, body) =>
      it(name, async () => {
        let planned: number | undefined;
        let made = 0;
        const counted = new Proxy(assert, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              made++;
              return (value as (...a: unknown[]) => unknown)(...args);
            };
          },
        });
        await body({ plan: (count) => (planned = count), diagnostic: () => undefined, assert: counted });
        if (planned !== undefined) expect(made, 'assertions made against t.plan()').toBe(planned);
      }),
  });
});

type Packet = Parameters<RedisTenantPersistence['storeRetained']>[0];
type Client = Parameters<RedisTenantPersistence['cleanIncoming']>[0];
const publish = (topic: string, payload: string, extra: object = {}) =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, brokerId: 'broker-a', brokerCounter: 1, ...extra }) as unknown as Packet;

async function all<T>(stream: AsyncIterable<unknown>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item as T);
  return items;
}

describe('two tenants on one shared connection', () => {
  it('never see each other\'s clients, subscriptions, retained messages, outgoing queues, incoming packets or wills', async () => {
    const mq = mqemitter();
    const broker = { id: 'broker-a', publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) };
    const tenantA = randomUUID();
    const a = tenantPersistence(tenantA);
    await a.setup(broker);
    // Everything of tenant A, under the same client id and topics tenant B will look for.
    const client = { id: 'same-id' } as Client;
    await a.addSubscriptions(client, [{ topic: 'home/#', qos: 1 }] as never);
    await a.storeRetained({ ...publish('home/door', 'open'), retain: true } as Packet);
    await a.outgoingEnqueueCombi([{ clientId: 'same-id' }], publish('home/door', 'queued'));
    await a.incomingStorePacket(client, publish('home/door', 'qos2', { qos: 2, messageId: 9 }));
    await a.putWill(client, publish('home/will', 'gone'));

    const b = tenantPersistence();
    await b.setup({ ...broker });
    expect(await b.subscriptionsByClient(client)).toEqual([]);
    expect(await b.subscriptionsByTopic('home/door')).toEqual([]);
    expect(await b.countOffline()).toMatchObject({ clientsCount: 0, subsCount: 0 });
    expect(await all(b.createRetainedStreamCombi(['#', 'home/door']))).toEqual([]);
    expect(await all(b.outgoingStream(client))).toEqual([]);
    await expect(b.incomingGetPacket(client, publish('home/door', 'x', { messageId: 9 }))).rejects.toThrow();
    expect(await b.getWill(client)).toBeNull();
    expect(await all(b.streamWill({}))).toEqual([]);

    // Tenant A still has all of it, and B's cleaning of the same client id touched none of it.
    await b.cleanSubscriptions(client);
    await b.cleanIncoming(client);
    await b.delWill(client);
    expect(await a.subscriptionsByClient(client)).toEqual([{ topic: 'home/#', qos: 1 }]);
    expect((await all<{ topic: string }>(a.createRetainedStream('#'))).map((p) => p.topic)).toEqual(['home/door']);
    expect((await all<{ payload: Buffer }>(a.outgoingStream(client))).map((p) => p.payload.toString())).toEqual(['queued']);
    expect(((await a.incomingGetPacket(client, publish('home/door', 'x', { messageId: 9 }))) as unknown as { payload: Buffer }).payload.toString()).toBe('qos2');
    expect((await a.getWill(client))?.payload.toString()).toBe('gone');

    // Every key tenant A wrote is under its own hash-tagged prefix.
    const keys = await shared.keys(`*${tenantA}*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.startsWith(`gh:{${tenantA}}:`)).toBe(true);
    await a.destroy();
    await b.destroy();
    expect(shared.status).toBe('ready'); // destroy() left the shared connection open
  });

  it('refuses commands that name no key, or reach outside the tenant, and keeps pipelines and scripts inside', async () => {
    const tenant = randomUUID();
    const view = prefixedConnection(shared, tenantKeyPrefix(tenant));
    await expect(view.keys('*')).rejects.toThrow(/refused/);
    await expect(view.scan('0')).rejects.toThrow(/refused/);
    await expect(view.flushdb()).rejects.toThrow(/refused/);
    await expect(view.eval('return redis.call("GET", "elsewhere")', 0)).rejects.toThrow(/refused/);
    expect(() => view.duplicate()).toThrow();
    await view.pipeline().set('p', '1').set('q', '2').exec();
    await view.multi().set('m', '3').exec();
    await view.eval('return redis.call("SET", KEYS[1], ARGV[1])', 1, 's', '4');
    expect((await shared.keys(`gh:{${tenant}}:*`)).sort()).toEqual(['m', 'p', 'q', 's'].map((k) => `gh:{${tenant}}:${k}`));
    expect(await shared.exists('p', 'q', 'm', 's')).toBe(0);
  });
});
