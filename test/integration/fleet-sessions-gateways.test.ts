import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import { connect, record, subscribe, until } from '../support/mqtt.js';
import { runCli } from '../support/processes.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { spawnUrlGateway, type UrlGateway } from '../support/url-gateway.js';

/** Two real gateway processes on one Postgres and one redis-server: sessions move between them, a client id connects once. */
describe('sessions across two gateway nodes', () => {
  let redis: RedisServer;
  let nodes: UrlGateway[] = [];
  let device: { username: string; password: string };
  let app: { username: string; password: string };
  const mqttUrl = (node: UrlGateway) => `mqtt://127.0.0.1:${node.env.MQTT_PORT}`;

  beforeAll(async () => {
    redis = await startRedisServer();
    const databaseUrl = await createEmptyDatabase();
    // One at a time: the first migrates the empty database.
    nodes.push(await spawnUrlGateway(databaseUrl, { REDIS_URL: redis.url }));
    nodes.push(await spawnUrlGateway(databaseUrl, { REDIS_URL: redis.url }));
    const { env } = nodes[0]!;
    expect((await runCli(['tenant', 'create', 'fleet', '--json'], env)).code).toBe(0);
    const createdDevice = await runCli(['device', 'create', '--tenant', 'fleet', '--name', 'sensor', '--json'], env);
    expect(createdDevice.code, createdDevice.stderr).toBe(0);
    device = JSON.parse(createdDevice.stdout);
    const createdApp = await runCli(['app', 'create', '--tenant', 'fleet', '--name', 'panel', '--subscribe', 'devices/+/telemetry', '--deny-publish', '#', '--json'], env);
    expect(createdApp.code, createdApp.stderr).toBe(0);
    app = JSON.parse(createdApp.stdout);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    nodes = [];
    await redis?.stop();
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

  it('the same client id connecting to both nodes at once ends with exactly one connection', async () => {
    for (let round = 0; round < 3; round++) {
      const clientId = `panel-racer-${round}`;
      const racers: MqttClient[] = nodes.map((node) => {
        const client = mqtt.connect(mqttUrl(node), { ...app, clientId, reconnectPeriod: 0, connectTimeout: 15_000, protocolVersion: 4 });
        client.on('error', () => undefined);
        return client;
      });
      await until(() => racers.some((client) => client.connected), 15_000, 'a racer connected');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(racers.filter((client) => client.connected)).toHaveLength(1);
      await Promise.all(racers.map((client) => client.endAsync(true)));
    }
  });
});
