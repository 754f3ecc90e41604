import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEmbeddedGateway, type EmbeddedGateway } from '../support/embedded-gateway.js';
import { connect } from '../support/mqtt.js';
import { exitOf, runCli } from '../support/processes.js';

/** The real gateway as a child process on its own embedded Postgres, killed in the two ways that matter. */
describe('durability of acknowledged telemetry', () => {
  let gw: EmbeddedGateway;

  /** A device of its own for each test, so that each counts only its own rows and can run alone. */
  async function newDevice(name: string): Promise<{ username: string; password: string; id: string }> {
    const created = await runCli(['device', 'create', '--tenant', 'durable', '--name', name, '--json'], gw.env);
    expect(created.code, created.stderr).toBe(0);
    return JSON.parse(created.stdout);
  }

  const storedRows = async (deviceId: string) =>
    Number((await gw.query<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE device_id = $1', [deviceId]))[0]!.n);

  beforeAll(async () => {
    gw = await spawnEmbeddedGateway();
    expect((await runCli(['tenant', 'create', 'durable', '--json'], gw.env)).code).toBe(0);
  }, 120_000);
  afterAll(() => gw?.close(), 60_000);

  it('every QoS 1 message acknowledged before a SIGKILL is in Postgres after the restart', async () => {
    const device = await newDevice('killed');
    const client = await connect(gw.mqttUrl, { username: device.username, password: device.password });
    let acknowledged = 0;
    // 20 in flight at a time, as a real fleet would pipeline them.
    await Promise.all(Array.from({ length: 20 }, async (_, lane) => {
      for (let i = lane; i < 1_000; i += 20) {
        await client.publishAsync('devices/killed/telemetry', JSON.stringify({ i }), { qos: 1 });
        acknowledged++;
      }
    }));
    gw.process.kill('SIGKILL');
    await exitOf(gw.process);
    client.end(true);
    expect(acknowledged).toBe(1_000);
    await gw.start(); // adopts the Postgres the killed gateway left running
    expect(await storedRows(device.id)).toBe(acknowledged);
  }, 120_000);

  it('a SIGKILL in the middle of QoS 1 ingest: every message acknowledged before it is in Postgres after the restart', async () => {
    const device = await newDevice('killed-midway');
    const client = await connect(gw.mqttUrl, { username: device.username, password: device.password, reconnectPeriod: 0 });
    client.on('error', () => undefined); // the connection dies with the process
    const acknowledged: number[] = [];
    let killed = false;
    // 20 lanes publishing until the process is gone; the kill lands while some of them wait for their PUBACK.
    const lanes = Array.from({ length: 20 }, async (_, lane) => {
      for (let i = lane; !killed; i += 20) {
        try {
          await client.publishAsync('devices/killed-midway/telemetry', JSON.stringify({ i }), { qos: 1 });
        } catch {
          return;
        }
        acknowledged.push(i);
        if (acknowledged.length === 500 && !killed) {
          killed = true;
          gw.process.kill('SIGKILL');
        }
      }
    });
    await exitOf(gw.process);
    client.end(true);
    await Promise.all(lanes);
    await gw.start();
    const stored = new Set((await gw.query<{ i: number }>("SELECT (payload->>'i')::int AS i FROM telemetry WHERE device_id = $1", [device.id])).map((row) => row.i));
    expect(acknowledged.length).toBeGreaterThanOrEqual(500);
    expect(acknowledged.filter((i) => !stored.has(i))).toEqual([]);
  }, 120_000);

  it('every QoS 0 message accepted before a SIGTERM is written before the process exits', async () => {
    const device = await newDevice('terminated');
    const client = await connect(gw.mqttUrl, { username: device.username, password: device.password });
    for (let i = 0; i < 3_000; i++) client.publish('devices/terminated/telemetry', JSON.stringify({ q0: i }), { qos: 0 });
    // A QoS 1 message after them: once it is acknowledged, the gateway has accepted everything before it.
    await client.publishAsync('devices/terminated/telemetry', JSON.stringify({ last: true }), { qos: 1 });
    gw.process.kill('SIGTERM');
    const exit = await exitOf(gw.process);
    client.end(true);
    expect(exit, gw.process.output()).toEqual({ code: 0, signal: null });
    await gw.start();
    expect(await storedRows(device.id)).toBe(3_001);
  }, 120_000);
});
