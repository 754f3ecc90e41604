import { randomUUID } from 'node:crypto';
import { once, type EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { Redis } from 'ioredis';
import mqemitter from 'mqemitter';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisDropChannel } from '../../src/fleet/persistence/drop-channel.js';
import { lockKey, tenantKeyPrefix } from '../../src/fleet/persistence/keys.js';
import { prefixedConnection } from '../../src/fleet/persistence/prefixed-connection.js';
import { RedisTenantPersistence } from '../../src/fleet/persistence/redis-tenant-persistence.js';
import { TakeoverLocks } from '../../src/fleet/persistence/takeover-locks.js';
import { silentLog } from '../support/database.js';
import { stillConnected, until } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * Two "nodes" in this process, each as a node of a fleet wires them: its own
 * shared Redis connection and subscriber, its takeover locks, and the tenant's
 * aedes instance on a RedisTenantPersistence, taking the lock in preConnect
 * (hooks/connect.ts lockingPreConnect does the same after namespacing the id).
 */
type Node = { port: number; broker: Aedes; locks: TakeoverLocks; close(): Promise<void> };

let redis: RedisServer;
let admin: Redis;
const cleanups: (() => Promise<void>)[] = [];
const TTL_MS = 600;

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
});

async function startNode(tenantId: string, options: { heartbeatInterval?: number } = {}): Promise<Node> {
  const shared = new Redis(redis.url);
  const subscriber = shared.duplicate();
  const locks = new TakeoverLocks(shared, new RedisDropChannel(shared, subscriber), randomUUID(), silentLog, { ttlMs: TTL_MS, waitMs: 3_000, pollMs: 10 });
  await locks.start();
  const broker = await Aedes.createBroker({
    persistence: new RedisTenantPersistence(prefixedConnection(shared, tenantKeyPrefix(tenantId))),
    heartbeatInterval: options.heartbeatInterval ?? 60_000,
    preConnect: (client, packet, callback) =>
      void locks.lock(tenantId, packet.clientId, client).then(() => callback(null, true), () => callback(null, false)),
  });
  const server = net.createServer((socket) => broker.handle(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const node: Node = {
    port: (server.address() as AddressInfo).port,
    broker,
    locks,
    async close() {
      server.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await locks.close();
      shared.disconnect();
      subscriber.disconnect();
    },
  };
  cleanups.push(() => node.close());
  return node;
}

function connect(node: Node, clientId: string, options: mqtt.IClientOptions = {}): MqttClient {
  const client = mqtt.connect(`mqtt://127.0.0.1:${node.port}`, { clientId, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  client.on('error', () => undefined);
  cleanups.push(async () => void client.end(true));
  return client;
}

async function connected(client: MqttClient): Promise<{ sessionPresent: boolean }> {
  const [connack] = (await once(m_(client), 'connect')) as [{ sessionPresent: boolean }];
  return connack;
}

const clientsOf = (node: Node) => (node.broker as unknown as { clients: Record<string, unknown> }).clients;
/** MQTT.js's client is an EventEmitter its types do not say is one. */
const m_ = (client: MqttClient) => client as unknown as EventEmitter;

describe('takeover across nodes', () => {
  it('closes the connection on the other node before the new one gets its CONNACK', async () => {
    const tenant = randomUUID();
    const [a, b] = [await startNode(tenant), await startNode(tenant)];
    const first = connect(a, 'device-1');
    await connected(first);
    const events: string[] = [];
    first.on('close', () => events.push('old closed'));
    const second = connect(b, 'device-1');
    second.on('connect', () => events.push('new CONNACK'));
    await connected(second);
    expect(events).toEqual(['old closed', 'new CONNACK']);
    expect(clientsOf(a)['device-1']).toBeUndefined();
    expect(clientsOf(b)['device-1']).toBeDefined();
    expect(a.locks.holding + b.locks.holding).toBe(1);
  });

  it('leaves exactly one connection when the same client id connects to both nodes at once', async () => {
    const tenant = randomUUID();
    const [a, b] = [await startNode(tenant), await startNode(tenant)];
    for (let round = 0; round < 5; round++) {
      const id = `racer-${round}`;
      const racers = [connect(a, id), connect(b, id)];
      const closed = new Set<MqttClient>();
      for (const client of racers) client.on('close', () => closed.add(client));
      // The race is over when one racer is closed (refused, or taken over) and the other connected.
      await until(() => closed.size === 1 && racers.some((client) => client.connected), 10_000, 'one racer closed, the other connected');
      await stillConnected(racers.find((client) => !closed.has(client))!);
      expect(closed.size).toBe(1);
      expect([a, b].filter((node) => clientsOf(node)[id] !== undefined)).toHaveLength(1);
      expect(await admin.exists(tenantKeyPrefix(tenant) + lockKey(id))).toBe(1);
    }
  });

  it('takes over on the same node too, and frees the client id when the connection ends', async () => {
    const tenant = randomUUID();
    const a = await startNode(tenant);
    const first = connect(a, 'same');
    await connected(first);
    const second = connect(a, 'same');
    await connected(second);
    expect(first.connected).toBe(false);
    second.end();
    await once(m_(second), 'close');
    await waitFor(async () => ((await admin.exists(tenantKeyPrefix(tenant) + lockKey('same'))) === 0 ? true : undefined), 5_000, 'the lock released');
    expect(a.locks.holding).toBe(0);
  });

  it('closes a connection whose lock was taken by another while it could not renew', async () => {
    const tenant = randomUUID();
    const a = await startNode(tenant);
    const client = connect(a, 'overtaken');
    await connected(client);
    const closed = once(m_(client), 'close');
    await admin.set(tenantKeyPrefix(tenant) + lockKey('overtaken'), `${randomUUID()}|elsewhere`, 'PX', 5_000);
    await closed; // at the next renewal, a third of the TTL later
    expect(await admin.get(tenantKeyPrefix(tenant) + lockKey('overtaken'))).toMatch(/\|elsewhere$/);
  });

  it('serves a client id whose holder crashed once its lock expires, and not while it holds', async () => {
    const tenant = randomUUID();
    const a = await startNode(tenant);
    const key = tenantKeyPrefix(tenant) + lockKey('orphan');
    // Held longer than a CONNECT may wait (3 s here): refused, the dead holder's lock untouched.
    await admin.set(key, `${randomUUID()}|dead`, 'PX', 60_000);
    const refused = connect(a, 'orphan');
    let served = false;
    refused.on('connect', () => (served = true));
    // Closed unserved (the node refuses, or the client gives up at its 5 s connect timeout).
    await new Promise<void>((resolve) => refused.once('close', () => resolve()));
    expect(served).toBe(false);
    expect(await admin.get(key)).toMatch(/\|dead$/);
    // Expiring within the wait: served, under its own lock.
    await admin.pexpire(key, TTL_MS);
    await connected(connect(a, 'orphan'));
    expect(await admin.get(key)).not.toMatch(/\|dead$/);
    expect(a.locks.holding).toBe(1);
  });
});

describe('a persistent session moves between nodes', () => {
  it('resumes on the other node with sessionPresent and receives the QoS 1 message queued while it was away', async () => {
    const tenant = randomUUID();
    const [a, b] = [await startNode(tenant), await startNode(tenant)];
    const device = connect(a, 'sleeper', { clean: false });
    expect((await connected(device)).sessionPresent).toBe(false);
    await device.subscribeAsync('home/door', { qos: 1 });
    await device.endAsync();

    const publisher = connect(a, 'publisher');
    await connected(publisher);
    await publisher.publishAsync('home/door', 'opened', { qos: 1 });

    const back = connect(b, 'sleeper', { clean: false });
    const received = once(m_(back), 'message');
    expect((await connected(back)).sessionPresent).toBe(true);
    const [topic, payload] = (await received) as [string, Buffer];
    expect([topic, payload.toString()]).toEqual(['home/door', 'opened']);
  });
});

describe('wills follow the lock', () => {
  /** A will as a node that then crashed left it: stored under its broker id, which no node hears a heartbeat from. */
  async function staleWill(tenantId: string, clientId: string): Promise<void> {
    const shared = new Redis(redis.url);
    const persistence = new RedisTenantPersistence(prefixedConnection(shared, tenantKeyPrefix(tenantId)));
    const mq = mqemitter();
    await persistence.setup({ id: 'crashed-broker', publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) });
    await persistence.putWill({ id: clientId } as never, { cmd: 'publish', topic: `wills/${clientId}`, payload: Buffer.from('gone'), qos: 1, retain: false } as never);
    shared.disconnect();
  }

  /**
   * "No other will was published", proven with markers: a stale will left after
   * the watcher subscribed, published by a sweep, then another after it: a will
   * a sweep did not hold back would have reached the watcher before the second.
   */
  async function twoMarkerWills(tenantId: string, wills: string[]): Promise<string[]> {
    for (const marker of ['marker-1', 'marker-2']) {
      await staleWill(tenantId, marker);
      await until(() => wills.includes(`wills/${marker}`), 5_000, `the will of ${marker}`);
    }
    return wills.filter((topic) => !topic.startsWith('wills/marker-'));
  }

  it('does not publish a crashed node\'s will after its client reconnected elsewhere, and publishes the will of one that did not', async () => {
    const tenant = randomUUID();
    await staleWill(tenant, 'came-back');
    await staleWill(tenant, 'stayed-away');
    await admin.set(tenantKeyPrefix(tenant) + lockKey('came-back'), `${randomUUID()}|crashed`, 'PX', TTL_MS);
    // Wills of silent brokers are looked at every 4 heartbeats: 400 ms here.
    const b = await startNode(tenant, { heartbeatInterval: 100 });
    const watcher = connect(b, 'watcher');
    await connected(watcher);
    const wills: string[] = [];
    watcher.on('message', (topic) => wills.push(topic));
    await watcher.subscribeAsync('wills/#', { qos: 1 });

    const device = connect(b, 'came-back');
    await connected(device);
    expect(await twoMarkerWills(tenant, wills)).toEqual(['wills/stayed-away']);
    expect((await admin.lrange(tenantKeyPrefix(tenant) + 'will', 0, -1)).filter((entry) => entry.includes('crashed-broker'))).toEqual([]);
  });

  it('holds back a silent broker\'s will while its client id is connected anywhere', async () => {
    const tenant = randomUUID();
    const b = await startNode(tenant, { heartbeatInterval: 100 });
    const device = connect(b, 'here');
    await connected(device);
    await staleWill(tenant, 'here'); // written after the connect's clean-up: only the lock keeps it back
    const watcher = connect(b, 'watcher');
    await connected(watcher);
    const wills: string[] = [];
    watcher.on('message', (topic) => wills.push(topic));
    await watcher.subscribeAsync('wills/#', { qos: 1 });
    expect(await twoMarkerWills(tenant, wills)).toEqual([]);
  });
});
