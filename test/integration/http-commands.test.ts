import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectedMigrations } from '../../src/db/migrate.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, record, subscribe, until } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

type Command = {
  id: string; device: string; name: string; params: Record<string, unknown>; status: string; result: unknown;
  createdAt: string; expiresAt: string; deliveredAt: string | null; completedAt: string | null;
};
type ErrorBody = { error: { code: string; message: string } };

describe('commands over HTTP: waiting for the outcome', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let owner: { id: string; token: string };
  const open: MqttClient[] = [];
  let devices = 0;

  /** A device of the test's own, so that no other test's commands reach it. */
  async function freshDevice(): Promise<Credential & { name: string }> {
    const name = `valve-${++devices}`;
    return { ...(await gw.device('plant', name, [{ name: 'restart' }])), name };
  }

  async function online(device: Credential & { name: string }): Promise<{ client: MqttClient; commands: ReturnType<typeof record> }> {
    const client = await connect(gw.endpoints.tcp, { username: device.username, password: device.password });
    open.push(client);
    const commands = record(client);
    expect(await subscribe(client, `devices/${device.name}/commands/+`, 1)).toEqual([1]);
    return { client, commands };
  }

  const issue = async (device: string) => {
    const response = await call<Command>(gw.base, 'POST', `/v1/devices/${device}/commands`, { token: owner.token, body: { name: 'restart', params: { delay_seconds: 5 }, ttlSeconds: 120 } });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body;
  };
  const get = (id: string, wait?: string) =>
    call<Command>(gw.base, 'GET', `/v1/commands/${id}${wait === undefined ? '' : `?wait=${encodeURIComponent(wait)}`}`, { token: owner.token });

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('plant');
    owner = await gw.user('plant', 'owner@plant.test', 'owner');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('?wait= that runs out answers 200 with the command still pending, not an error', async () => {
    const device = await freshDevice(); // never connects
    const command = await issue(device.name);
    expect(command.status).toBe('pending');
    const waited = await get(command.id, '300ms');
    expect(waited.status, JSON.stringify(waited.body)).toBe(200);
    expect(waited.body).toMatchObject({ id: command.id, device: device.name, status: 'pending', result: null, deliveredAt: null, completedAt: null });
    expect((await get(command.id, '0.2')).body).toMatchObject({ id: command.id, status: 'pending' });
  });

  it('?wait= that runs out on a delivered command the device has not answered answers it delivered', async () => {
    const device = await freshDevice();
    const { commands } = await online(device);
    const command = await issue(device.name);
    await until(() => commands.length === 1, 5_000, 'the command on the device');
    // Delivered once the device's PUBACK is recorded.
    await waitFor(async () => ((await get(command.id)).body.status === 'delivered' ? true : undefined), 5_000, 'status delivered');
    const waited = await get(command.id, '300ms');
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ id: command.id, status: 'delivered', completedAt: null, deliveredAt: expect.any(String) });
  });

  it('a command issued while the SUBSCRIBE looks up what is outstanding reaches the device once', async () => {
    const device = await freshDevice();
    const commandService = gw.gateway.core.commands;
    const lookUp = commandService.outstandingFor.bind(commandService);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let lookingUp!: () => void;
    const lookupStarted = new Promise<void>((resolve) => (lookingUp = resolve));
    commandService.outstandingFor = async (ctx) => {
      lookingUp();
      await released;
      return lookUp(ctx);
    };
    try {
      const { commands } = await online(device);
      await lookupStarted;
      const command = await issue(device.name);
      await until(() => commands.length === 1, 5_000, 'the live command on the device');
      release(); // The lookup now finds the command just delivered.
      const marker = await issue(device.name);
      await until(() => commands.some((m) => m.topic.endsWith(marker.id)), 5_000, 'the marker command');
      expect(commands.map((m) => m.topic)).toEqual([`devices/${device.name}/commands/${command.id}`, `devices/${device.name}/commands/${marker.id}`]);
    } finally {
      commandService.outstandingFor = lookUp;
      release();
    }
  });

  it('a device answering {status:"error"} ends the command failed, with its result, and wakes a waiting request', async () => {
    const device = await freshDevice();
    const { client, commands } = await online(device);
    const command = await issue(device.name);
    await until(() => commands.length === 1, 5_000, 'the command on the device');
    expect(commands[0]!.topic).toBe(`devices/${device.name}/commands/${command.id}`);
    expect(JSON.parse(commands[0]!.payload)).toMatchObject({ id: command.id, name: 'restart', params: { delay_seconds: 5 } });

    // Held until the result arrives: had it not woken, it would answer `delivered` after 20 s.
    const waiting = get(command.id, '20s');
    await client.publishAsync(`devices/${device.name}/commands/${command.id}/result`, JSON.stringify({ status: 'error', reason: 'valve jammed' }), { qos: 1 });
    const finished = await waiting;
    expect(finished.status).toBe(200);
    expect(finished.body).toMatchObject({
      id: command.id, status: 'failed', result: { status: 'error', reason: 'valve jammed' },
      deliveredAt: expect.any(String), completedAt: expect.any(String),
    });
    // Final: a later result changes nothing.
    await client.publishAsync(`devices/${device.name}/commands/${command.id}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 });
    expect((await get(command.id)).body).toMatchObject({ status: 'failed', result: { status: 'error', reason: 'valve jammed' } });
  }, 60_000);

  it('a malformed ?wait= is a 400 in the error format', async () => {
    const command = await issue((await freshDevice()).name);
    for (const wait of ['soon', '5m', '-1s']) {
      const response = await call<ErrorBody>(gw.base, 'GET', `/v1/commands/${command.id}?wait=${wait}`, { token: owner.token });
      expect(response.status, wait).toBe(400);
      expect(response.body.error.code, wait).toBe('VALIDATION_FAILED');
    }
  });

  describe('/readyz', () => {
    it('answers 503 naming the migration a database lacks, and 200 again once it is applied', async () => {
      const latest = (await expectedMigrations()).at(-1)!;
      // The test's database is on the run's server as its superuser: remove the record of one migration.
      const admin = new pg.Client({ connectionString: gw.gateway.databaseUrl });
      await admin.connect();
      try {
        const [row] = (await admin.query('DELETE FROM pgmigrations WHERE name = $1 RETURNING name, run_on', [latest])).rows;
        expect(row).toMatchObject({ name: latest });
        try {
          const response = await call<ErrorBody & { error: { details?: unknown } }>(gw.base, 'GET', '/readyz');
          expect(response.status).toBe(503);
          expect(response.body.error.code).toBe('DATABASE_UNAVAILABLE');
          expect(response.body.error.message).toContain(latest);
        } finally {
          await admin.query('INSERT INTO pgmigrations (name, run_on) VALUES ($1, $2)', [row.name, row.run_on]);
        }
        expect((await call(gw.base, 'GET', '/readyz')).status).toBe(200);
      } finally {
        await admin.end();
      }
    });
  });
});
