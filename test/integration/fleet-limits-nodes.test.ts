import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/auth/failure-limiter.js';
import { COMMANDS, type Flags } from '../../src/cli/commands.js';
import { loadConfig } from '../../src/config.js';
import { createCore, type Core } from '../../src/core/create-core.js';
import { openDatabase } from '../../src/db/open.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';
import { connect, record, refusedWith, subscribe, until } from '../support/mqtt.js';
import { exitOf, gatewayEnv, waitFor } from '../support/processes.js';
import { metric } from '../support/metrics.js';
import { describeWithRedis, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { spawnUrlGateway, type UrlGateway } from '../support/url-gateway.js';

type Credential = { id: string; username: string; password: string };
const CAP = 2;
const TENANT_RATE = 100;

/**
 * Two real `gatehouse start` processes over one PostgreSQL and one
 * redis-server: a credential's connection cap holds across them, a slot freed
 * on one node is taken on the other, and a node killed with SIGKILL holds its
 * connections' slots no longer than FLEET_NODE_TTL_MS; guesses on either node
 * count towards one lockout.
 */
describeWithRedis('fleet-wide limits over two gateway processes', () => {
  let redis: RedisServer;
  let database: Awaited<ReturnType<typeof openDatabase>>;
  let nodes: UrlGateway[] = [];
  let core: Core;
  const clients: MqttClient[] = [];
  const credentials = new Map<string, Credential>();
  const cli = async <T>(name: string, flags: Flags, args: string[] = []): Promise<T> => (await COMMANDS[name]!.run(core, flags, args)).json as T;
  const mqttUrl = (node: UrlGateway) => `mqtt://127.0.0.1:${node.env.MQTT_PORT}`;
  const options = (name: string, clientId: string) => ({ username: credentials.get(name)!.username, password: credentials.get(name)!.password, clientId, reconnectPeriod: 0 });
  const mqtt = async (node: UrlGateway, name: string, clientId: string) => {
    const client = await connect(mqttUrl(node), options(name, clientId));
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  /** Connects until a CONNECT is accepted (a slot is released asynchronously, or runs out). */
  const connectOnceFree = (node: UrlGateway, name: string, clientId: string, timeoutMs: number) =>
    waitFor(async () => mqtt(node, name, clientId).catch((error: unknown) => {
      expect((error as { code?: number }).code).toBe(3);
      return undefined;
    }), timeoutMs, `a slot of ${name} free`);

  beforeAll(async () => {
    redis = await startRedisServer();
    const databaseUrl = await createEmptyDatabase();
    const env = { REDIS_URL: redis.url, MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: String(CAP), FLEET_NODE_TTL_MS: '5000', MQTT_TENANT_RATE_MESSAGES: String(TENANT_RATE) };
    nodes = [await spawnUrlGateway(databaseUrl, env)];
    const config = loadConfig(gatewayEnv({ DATABASE_URL: databaseUrl }));
    database = await openDatabase(config, silentLog, { adoptOrphan: false, migrate: false });
    core = await createCore(database.db, { config, log: silentLog, issuer: () => nodes[0]!.base, runAutomations: false });
    await cli('tenant create', {}, ['caps']);
    for (const name of ['lamp', 'fan', 'door']) credentials.set(name, await cli<Credential>('device create', { tenant: 'caps', name, type: 'light', capability: ['power'] }));
    for (const name of ['feeder', 'reader']) credentials.set(name, await cli<Credential>('app create', { tenant: 'caps', name }));
    nodes.push(await spawnUrlGateway(databaseUrl, env));
  }, 180_000);
  afterAll(async () => {
    for (const client of clients) client.end(true);
    await Promise.all(nodes.map((node) => node.stop()));
    await core?.stop();
    await database?.close();
    await redis?.close();
  }, 60_000);

  it(`two connections of a credential on node 1 and a third on node 2: the third gets CONNACK 3; once one leaves, a new one is accepted`, async () => {
    const [first] = [await mqtt(nodes[0]!, 'lamp', 'lamp-1'), await mqtt(nodes[0]!, 'lamp', 'lamp-2')];
    expect(await refusedWith(mqttUrl(nodes[1]!), options('lamp', 'lamp-3'))).toBe(3);
    expect(await refusedWith(mqttUrl(nodes[0]!), options('lamp', 'lamp-3'))).toBe(3);
    expect(await metric(nodes[1]!.base, 'gatehouse_mqtt_connects_refused_total')).toBeGreaterThanOrEqual(1);
    await first!.endAsync();
    const third = await connectOnceFree(nodes[1]!, 'lamp', 'lamp-3', 10_000);
    expect(third.connected).toBe(true);
    expect(await refusedWith(mqttUrl(nodes[1]!), options('lamp', 'lamp-4'))).toBe(3);
  });

  it(`a tenant past MQTT_TENANT_RATE_MESSAGES (${TENANT_RATE}/s) has its PUBLISHes dropped and counted, and what passed still crosses to the other node`, async () => {
    const reader = await mqtt(nodes[1]!, 'reader', 'reader-1');
    const heard = record(reader);
    await subscribe(reader, 'burst/#', 0);
    const feeder = await mqtt(nodes[0]!, 'feeder', 'feeder-1');
    for (let i = 0; i < 10 * TENANT_RATE; i++) feeder.publish('burst/x', String(i), { qos: 0 });
    await feeder.publishAsync('burst/x', 'flushed', { qos: 1 });
    await waitFor(async () => (await metric(nodes[0]!.base, 'gatehouse_mqtt_publishes_refused_total', { reason: 'tenant_rate' })) > 0 || undefined, 10_000, 'refusals at the tenant rate');
    await until(() => heard.length > 0, 10_000, 'the messages within the rate on node 2');
  });

  it('bad passwords guessed on both nodes add up to one lockout of the username, on every node (CONNACK 5, even with the right password)', async () => {
    const door = credentials.get('door')!;
    const { maxFailures } = DEFAULT_LIMITS.mqtt!;
    for (let i = 0; i < maxFailures; i++) {
      const node = nodes[i % 2]!;
      expect(await refusedWith(mqttUrl(node), { username: door.username, password: `wrong-${i}`, clientId: `guess-${i}`, reconnectPeriod: 0 })).toBe(4);
    }
    expect(await refusedWith(mqttUrl(nodes[0]!), options('door', 'door-1'))).toBe(5);
    expect(await refusedWith(mqttUrl(nodes[1]!), options('door', 'door-1'))).toBe(5);
  });

  it('a node killed with SIGKILL holds its connections\' slots for FLEET_NODE_TTL_MS at most', async () => {
    await mqtt(nodes[0]!, 'fan', 'fan-1');
    const onDoomed = await mqtt(nodes[1]!, 'fan', 'fan-2');
    const lost = new Promise<void>((resolve) => onDoomed.once('close', () => resolve()));
    nodes[1]!.process.kill('SIGKILL');
    await exitOf(nodes[1]!.process);
    await lost;
    // The dead node's slot is still counted: refused at first (its field lives until its last renewal + 5 s) ...
    expect(await refusedWith(mqttUrl(nodes[0]!), options('fan', 'fan-3'))).toBe(3);
    // ... then freed without anyone releasing it.
    const replacement = await connectOnceFree(nodes[0]!, 'fan', 'fan-3', 15_000);
    expect(replacement.connected).toBe(true);
    expect(await refusedWith(mqttUrl(nodes[0]!), options('fan', 'fan-4'))).toBe(3);
  }, 40_000);
});
