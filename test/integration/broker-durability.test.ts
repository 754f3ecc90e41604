import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../support/mqtt.js';
import { exitOf, freePort, gatewayEnv, runCli, spawnGateway, waitFor } from '../support/processes.js';

/** The real gateway as a child process on its own embedded Postgres, killed in the two ways that matter. */
describe('durability of acknowledged telemetry', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let gateway: ReturnType<typeof spawnGateway>;
  let device: { username: string; password: string; id: string };
  let mqttUrl: string;

  async function start(): Promise<void> {
    gateway = spawnGateway(env);
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${env.HTTP_PORT}/readyz`)).status === 200 ? true : undefined), 60_000, 'readyz');
  }

  async function storedRows(): Promise<number> {
    const port = Number((await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8')).split('\n')[3]);
    const { user, password } = JSON.parse(await readFile(path.join(dataDir, 'postgres-credentials.json'), 'utf8'));
    const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'gatehouse' });
    await client.connect();
    try {
      return Number((await client.query('SELECT count(*) AS n FROM telemetry WHERE device_id = $1', [device.id])).rows[0].n);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-durability-'));
    await chmod(dataDir, 0o755);
    const mqttPort = await freePort();
    env = gatewayEnv({ DATA_DIR: dataDir, HTTP_PORT: String(await freePort()), MQTT_PORT: String(mqttPort), MQTTS_PORT: String(await freePort()) });
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    await start();
    expect((await runCli(['tenant', 'create', 'durable', '--json'], env)).code).toBe(0);
    device = JSON.parse((await runCli(['device', 'create', '--tenant', 'durable', '--name', 'logger', '--json'], env)).stdout);
  }, 120_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      gateway.kill('SIGTERM');
      await exitOf(gateway);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every QoS 1 message acknowledged before a SIGKILL is in Postgres after the restart', async () => {
    const client = await connect(mqttUrl, { username: device.username, password: device.password });
    let acknowledged = 0;
    // 20 in flight at a time, as a real fleet would pipeline them.
    await Promise.all(Array.from({ length: 20 }, async (_, lane) => {
      for (let i = lane; i < 1_000; i += 20) {
        await client.publishAsync('devices/logger/telemetry', JSON.stringify({ i }), { qos: 1 });
        acknowledged++;
      }
    }));
    gateway.kill('SIGKILL');
    await exitOf(gateway);
    client.end(true);
    expect(acknowledged).toBe(1_000);
    await start(); // adopts the Postgres the killed gateway left running
    expect(await storedRows()).toBe(acknowledged);
  }, 120_000);

  it('every QoS 0 message accepted before a SIGTERM is written before the process exits', async () => {
    const before = await storedRows();
    const client = await connect(mqttUrl, { username: device.username, password: device.password });
    for (let i = 0; i < 3_000; i++) client.publish('devices/logger/telemetry', JSON.stringify({ q0: i }), { qos: 0 });
    // A QoS 1 message after them: once it is acknowledged, the gateway has accepted everything before it.
    await client.publishAsync('devices/logger/telemetry', JSON.stringify({ last: true }), { qos: 1 });
    gateway.kill('SIGTERM');
    const exit = await exitOf(gateway);
    client.end(true);
    expect(exit, gateway.output()).toEqual({ code: 0, signal: null });
    await start();
    expect(await storedRows()).toBe(before + 3_001);
  }, 120_000);
});
