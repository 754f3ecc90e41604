import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import { connect, record, stillConnected, subscribe, until } from '../support/mqtt.js';
import { exitOf, runCli } from '../support/processes.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { spawnUrlGateway, type UrlGateway } from '../support/url-gateway.js';

/** Two real gateway processes on one Postgres and one redis-server: sessions move between them, a client id connects once. */
describe('sessions across two gateway nodes', () => {
  let redis: RedisServer;
  let nodes: UrlGateway[] = [];
  let device: { username: string; password: string };
  let app: { username: string; password: string };
  let tenantId: string;
  /** An app that may publish its will (on panels/…). */
  let willing: { username: string; password: string };
  const mqttUrl = (node: UrlGateway) => `mqtt://127.0.0.1:${node.env.MQTT_PORT}`;

  beforeAll(async () => {
    redis = await startRedisServer();
    const databaseUrl = await createEmptyDatabase();
    // One at a time: the first migrates the empty database.
    nodes.push(await spawnUrlGateway(databaseUrl, { REDIS_URL: redis.url }));
    nodes.push(await spawnUrlGateway(databaseUrl, { REDIS_URL: redis.url }));
    const { env } = nodes[0]!;
    const tenant = await runCli(['tenant', 'create', 'fleet', '--json'], env);
    expect(tenant.code, tenant.stderr).toBe(0);
    tenantId = (JSON.parse(tenant.stdout) as { id: string }).id;
    const createdDevice = await runCli(['device', 'create', '--tenant', 'fleet', '--name', 'sensor', '--json'], env);
    expect(createdDevice.code, createdDevice.stderr).toBe(0);
    device = JSON.parse(createdDevice.stdout);
    const createdApp = await runCli(['app', 'create', '--tenant', 'fleet', '--name', 'panel', '--subscribe', 'devices/+/telemetry', '--deny-publish', '#', '--json'], env);
    expect(createdApp.code, createdApp.stderr).toBe(0);
    app = JSON.parse(createdApp.stdout);
    const createdWilling = await runCli(['app', 'create', '--tenant', 'fleet', '--name', 'willing', '--subscribe', 'devices/+/telemetry', '--publish', 'panels/#', '--json'], env);
    expect(createdWilling.code, createdWilling.stderr).toBe(0);
    willing = JSON.parse(createdWilling.stdout);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    nodes = [];
    await redis?.close();
  }, 60_000);

  it('a persistent session left on node 1 resumes on node 2 with sessionPresent and receives the QoS 1 message queued meanwhile', async () => {
    const [one, two] = [nodes[0]!, nodes[1]!];
    const first = await connect(mqttUrl(one), { ...app, clientId: 'panel-sleeper', clean: false });
    expect(await subscribe(first, 'devices/sensor/telemetry', 1)).toEqual([1]);
    await first.endAsync();

    const sensor = await connect(mqttUrl(one), device);
    await sensor.publishAsync('devices/sensor/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
    await sensor.endAsync();

    const resumed = mqtt.connect(mqttUrl(two), { ...app, clientId: 'panel-sleeper', clean: false, reconnectPeriod: 0, protocolVersion: 4 });
    const received = record(resumed);
    const [connack] = (await new Promise((resolve, reject) => {
      resumed.once('connect', (packet) => resolve([packet]));
      resumed.once('error', reject);
    })) as [{ sessionPresent: boolean }];
    expect(connack.sessionPresent).toBe(true);
    await until(() => received.length > 0, 5_000, 'the queued message');
    expect(received.map(({ topic, payload, qos }) => ({ topic, payload: JSON.parse(payload), qos }))).toEqual([
      { topic: 'devices/sensor/telemetry', payload: { temperature: 21.5 }, qos: 1 },
    ]);
    await resumed.endAsync();
  });

  it('a persistent session resumed again and again, on either node, under QoS 1 load: no message twice on one connection, none lost', async () => {
    const sensor = await connect(mqttUrl(nodes[0]!), device);
    /** A connection recorded from its first packet: a resumed session is sent its queue right after the CONNACK. */
    const resume = async (node: UrlGateway) => {
      const client = mqtt.connect(mqttUrl(node), { ...app, clientId: 'panel-resumer', clean: false, reconnectPeriod: 0, protocolVersion: 4 });
      const received = record(client);
      await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
      return { client, received };
    };
    const first = await resume(nodes[1]!);
    expect(await subscribe(first.client, 'devices/sensor/telemetry', 1)).toEqual([1]);
    let published = 0;
    let publishing = true;
    const load = (async () => {
      while (publishing) {
        const burst = Array.from({ length: 5 }, () => sensor.publishAsync('devices/sensor/telemetry', JSON.stringify({ n: ++published }), { qos: 1 }));
        await Promise.all(burst);
      }
    })();
    const connections = [first];
    for (let round = 1; round <= 40; round++) {
      const current = connections.at(-1)!;
      const seen = current.received.length;
      await until(() => current.received.length >= seen + 3, 10_000, 'messages on this connection');
      // Dropped without DISCONNECT, whatever is in flight: it is sent again on the next connection.
      await current.client.endAsync(true);
      connections.push(await resume(nodes[round % 2]!));
    }
    publishing = false;
    await load;
    const last = connections.at(-1)!;
    await sensor.publishAsync('devices/sensor/telemetry', JSON.stringify({ n: 'marker' }), { qos: 1 });
    await until(() => last.received.some((m) => m.payload.includes('marker')), 10_000, 'the marker on the last connection');
    await Promise.all([sensor.endAsync(), last.client.endAsync()]);

    const numbers = connections.map(({ received }) => received.map((m) => JSON.parse(m.payload).n as number | 'marker').filter((n) => n !== 'marker'));
    const twiceOnOneConnection = numbers.flatMap((ns, connection) => ns.filter((n, i) => ns.indexOf(n) !== i).map((n) => ({ connection, n })));
    expect(twiceOnOneConnection).toEqual([]);
    const missing = Array.from({ length: published }, (_, i) => i + 1).filter((n) => !numbers.some((ns) => ns.includes(n)));
    expect(missing).toEqual([]);
  }, 120_000);

  it('the same client id connecting to both nodes at once ends with exactly one connection', async () => {
    for (let round = 0; round < 3; round++) {
      const clientId = `panel-racer-${round}`;
      const closed = new Set<MqttClient>();
      const racers: MqttClient[] = nodes.map((node) => {
        const client = mqtt.connect(mqttUrl(node), { ...app, clientId, reconnectPeriod: 0, connectTimeout: 15_000, protocolVersion: 4 });
        client.on('error', () => undefined).on('close', () => closed.add(client));
        return client;
      });
      // The race is over when one racer is closed (refused, or taken over) and the other connected.
      await until(() => closed.size === 1 && racers.some((client) => client.connected), 15_000, 'one racer closed, the other connected');
      const winner = racers.find((client) => !closed.has(client))!;
      await stillConnected(winner);
      expect(closed.has(winner)).toBe(false);
      await Promise.all(racers.map((client) => client.endAsync(true)));
    }
  });

  it('a node killed with SIGKILL: its client reconnects to the other node once the lock expires, resumes its session, and its stale will is gone', async () => {
    const [one, two] = [nodes[0]!, nodes[1]!];
    const wills = new Redis(redis.url);
    const willsOf = async (suffix: string) => (await wills.lrange(`gh:{${tenantId}}:will`, 0, -1)).filter((entry) => entry.endsWith(suffix));
    try {
      const first = await connect(mqttUrl(one), { ...willing, clientId: 'panel-crash', clean: false, will: { topic: 'panels/crash/gone', payload: Buffer.from('x'), qos: 1, retain: false } });
      first.on('error', () => undefined);
      expect(await subscribe(first, 'devices/sensor/telemetry', 1)).toEqual([1]);
      expect(await willsOf(encodeURIComponent('/panel-crash'))).toHaveLength(1);

      one.process.kill('SIGKILL');
      await exitOf(one.process);
      // The dead node's lock is not renewed: the new connection is served once it expires (10 s at most).
      const resumed = await connect(mqttUrl(two), { ...willing, clientId: 'panel-crash', clean: false, connectTimeout: 20_000 });
      expect(await willsOf(encodeURIComponent('/panel-crash'))).toEqual([]);
      const received = record(resumed);
      const sensor = await connect(mqttUrl(two), device);
      await sensor.publishAsync('devices/sensor/telemetry', JSON.stringify({ temperature: 3 }), { qos: 1 });
      await until(() => received.length > 0, 5_000, 'delivery to the resumed session');
      await Promise.all([sensor.endAsync(), resumed.endAsync()]);
    } finally {
      wills.disconnect();
    }
  }, 60_000);
});
