import type { MqttClient } from 'mqtt';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate } from '../../src/broker/dev-certificates.js';
import type { GatewayEvents } from '../../src/core/event-bus.js';
import { tenantScope } from '../../src/db/tenant-scope.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, refusedWith } from '../support/mqtt.js';
import { gatewayEnv, runCli } from '../support/processes.js';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };
type Registered = { id: string; name: string; username: string; password: string };
type Detail = {
  name: string; status: string; displayName: string | null; nicknames: string[]; room: string | null; telemetryCount: number;
  ownerUserId: string | null; certificateCn: string | null; capabilities: { name: string; requiresPin: boolean; requiresApproval: boolean }[];
};

/** Resolves when the client's connection closes (the gateway dropped it). */
const closed = (client: MqttClient) => new Promise<void>((resolve) => client.once('close', () => resolve()));

describe('devices managed over the API', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let owner: { id: string; token: string };
  let member: { id: string; token: string };
  let otherAdmin: { id: string; token: string };
  let ca: Awaited<ReturnType<typeof createDevCa>>;
  let dir: string;
  const open: MqttClient[] = [];

  const api = <T = Record<string, unknown>>(method: string, url: string, body?: unknown, token = owner.token) => call<T>(gw.base, method, url, { token, body });
  const tcp = (credential: { username: string; password: string }) => connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
  /** Rows stored for a device id, read as the superuser (they outlive the device row). */
  const telemetryRows = async (deviceId: string) =>
    Number((await gw.gateway.core.db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE device_id = $1', [deviceId]))[0]!.n);
  /** The next emission of an event, read together with what a listener then finds in the database. */
  function next<K extends 'device.updated' | 'device.removed'>(event: K, deviceId: string, read: () => Promise<unknown>) {
    return new Promise<{ payload: GatewayEvents[K]; seen: unknown }>((resolve) => {
      const off = gw.gateway.core.events.on(event, (payload) => {
        if (payload.deviceId !== deviceId) return;
        off();
        void read().then((seen) => resolve({ payload, seen }));
      });
    });
  }

  beforeAll(async () => {
    ca = await createDevCa();
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-device-api-'));
    await writeFile(path.join(dir, 'clients-ca.crt'), ca.cert);
    gw = await startBrokerGateway({ MQTT_TLS_CLIENT_CA: path.join(dir, 'clients-ca.crt') });
    await gw.tenant('fleet');
    await gw.tenant('rival');
    owner = await gw.user('fleet', 'owner@fleet.test', 'owner');
    member = await gw.user('fleet', 'member@fleet.test', 'member');
    otherAdmin = await gw.user('rival', 'admin@rival.test', 'admin');
  }, 60_000);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(async () => {
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('create → telemetry stored → rotate (connection dropped, old secret refused) → suspend → reinstate → delete (dropped, device.removed, telemetry kept)', async () => {
    const created = await api<Registered>('POST', '/v1/devices', {
      name: 'meter-1', type: 'sensor', capabilities: [{ name: 'temperature' }], displayName: 'Boiler meter', nicknames: ['Boiler'], room: 'Basement',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'meter-1', username: 'meter-1@fleet', password: expect.stringMatching(/^gd_/) });

    const first = await tcp(created.body);
    open.push(first);
    await first.publishAsync('devices/meter-1/telemetry', JSON.stringify({ temperature: 61.5 }), { qos: 1 });
    expect((await api<Detail>('GET', '/v1/devices/meter-1')).body).toMatchObject({ telemetryCount: 1, displayName: 'Boiler meter', nicknames: ['Boiler'], room: 'Basement' });

    const dropped = closed(first);
    const rotated = await api<{ username: string; password: string }>('POST', '/v1/devices/meter-1/secret');
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    await dropped;
    expect(await refusedWith(gw.endpoints.tcp, { username: created.body.username, password: created.body.password })).toBe(4);
    const second = await tcp(rotated.body);
    open.push(second);

    const suspendedDrop = closed(second);
    expect((await api('POST', '/v1/devices/meter-1/suspension', { suspended: true })).status).toBe(204);
    await suspendedDrop;
    expect(await refusedWith(gw.endpoints.tcp, rotated.body)).toBe(5);
    expect((await api<Detail>('GET', '/v1/devices/meter-1')).body.status).toBe('suspended');
    expect((await api('POST', '/v1/devices/meter-1/suspension', { suspended: false })).status).toBe(204);
    const third = await tcp(rotated.body);
    open.push(third);

    const removedDrop = closed(third);
    const removed = next('device.removed', created.body.id, () => gw.gateway.core.db.platformQuery('SELECT id FROM devices WHERE id = $1', [created.body.id]));
    const deleted = await api('DELETE', '/v1/devices/meter-1');
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body).toEqual({ name: 'meter-1', purged: false, telemetryDeleted: 0 });
    await removedDrop;
    // Announced after the commit: a listener already finds the row gone.
    expect(await removed).toEqual({ payload: { tenantId: expect.any(String), deviceId: created.body.id, deviceName: 'meter-1' }, seen: [] });
    expect(await refusedWith(gw.endpoints.tcp, rotated.body)).toBe(4);
    expect((await api<ErrorBody>('GET', '/v1/devices/meter-1')).status).toBe(404);
    expect(await telemetryRows(created.body.id)).toBe(1);

    const audit = await gw.gateway.core.db.platformQuery<{ event_type: string; channel: string }>(
      `SELECT event_type, channel FROM security_events WHERE device_id = $1 ORDER BY created_at, id`, [created.body.id]);
    expect(audit.map((e) => e.event_type)).toEqual(['DEVICE_CREATED', 'DEVICE_SECRET_ROTATED', 'DEVICE_STATUS_CHANGED', 'DEVICE_STATUS_CHANGED', 'DEVICE_REMOVED']);
    expect(new Set(audit.map((e) => e.channel))).toEqual(new Set(['web']));
  }, 60_000);

  it('?purge=true deletes the device\'s telemetry with it; a new device of the same name starts empty', async () => {
    const created = (await api<Registered>('POST', '/v1/devices', { name: 'meter-2', capabilities: [{ name: 'temperature' }] })).body;
    const client = await tcp(created);
    open.push(client);
    for (let i = 0; i < 3; i++) await client.publishAsync('devices/meter-2/telemetry', JSON.stringify({ temperature: i }), { qos: 1 });
    expect(await telemetryRows(created.id)).toBe(3);
    const deleted = await api('DELETE', '/v1/devices/meter-2?purge=true');
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body).toEqual({ name: 'meter-2', purged: true, telemetryDeleted: 3 });
    expect(await telemetryRows(created.id)).toBe(0);
    const again = await api<Registered>('POST', '/v1/devices', { name: 'meter-2' });
    expect(again.status).toBe(201);
    expect((await api<Detail>('GET', '/v1/devices/meter-2')).body.telemetryCount).toBe(0);
  });

  it('telemetry still queued for a device removed meanwhile fails alone; its tenant\'s other rows of the same batch are stored', async () => {
    const gone = (await api<Registered>('POST', '/v1/devices', { name: 'gone-1' })).body;
    const kept = (await api<Registered>('POST', '/v1/devices', { name: 'kept-1' })).body;
    expect((await api('DELETE', '/v1/devices/gone-1')).status).toBe(200);
    const scope = tenantScope(await ownerContext());
    const written = (deviceId: string) => new Promise<Error | undefined>((resolve) => {
      gw.gateway.core.telemetry.write({ tenant: scope, deviceId, stream: '', payload: '{"n":1}', receivedAt: Date.now() }, resolve);
    });
    // Queued in one turn of the event loop: one batch of this tenant.
    const [removedRow, keptRow] = await Promise.all([written(gone.id), written(kept.id)]);
    expect(removedRow).toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    expect(keptRow).toBeUndefined();
    expect(await telemetryRows(kept.id)).toBe(1);
    expect(await telemetryRows(gone.id)).toBe(0);
  });

  it('PATCH changes what GET answers and announces device.updated after the commit; an owner must be a member', async () => {
    const created = (await api<Registered>('POST', '/v1/devices', { name: 'lamp-1', type: 'light', capabilities: [{ name: 'power' }] })).body;
    const updated = next('device.updated', created.id, () => gw.gateway.core.db.platformQuery<{ display_name: string }>('SELECT display_name FROM devices WHERE id = $1', [created.id]));
    const patched = await api('PATCH', '/v1/devices/lamp-1', {
      displayName: 'Reading lamp', nicknames: ['Lamp', 'Desk light'], room: 'Study', ownerUserId: member.id,
      capabilities: [{ name: 'power' }, { name: 'brightness', requiresPin: true }],
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(204);
    expect(await updated).toEqual({ payload: { tenantId: expect.any(String), deviceId: created.id, deviceName: 'lamp-1' }, seen: [{ display_name: 'Reading lamp' }] });
    expect((await api<Detail>('GET', '/v1/devices/lamp-1')).body).toMatchObject({
      displayName: 'Reading lamp', nicknames: ['Lamp', 'Desk light'], room: 'Study', ownerUserId: member.id,
      capabilities: [{ name: 'brightness', requiresPin: true, requiresApproval: false }, { name: 'power', requiresPin: false, requiresApproval: false }],
    });
    const listed = (await api<Detail[]>('GET', '/v1/devices')).body.find((d) => d.name === 'lamp-1');
    expect(listed).toMatchObject({ displayName: 'Reading lamp', nicknames: ['Lamp', 'Desk light'], room: 'Study' });
    const states = await gw.gateway.core.devices.readStates(await ownerContext(), ['lamp-1']);
    expect(states.devices[0]).toMatchObject({ displayName: 'Reading lamp', nicknames: ['Lamp', 'Desk light'], room: 'Study' });

    // Clearing with null; an unknown capability and a stranger as owner are refused and change nothing.
    const cleared = await api('PATCH', '/v1/devices/lamp-1', { room: null });
    expect(cleared.status, JSON.stringify(cleared.body)).toBe(204);
    const badCapability = await api<ErrorBody>('PATCH', '/v1/devices/lamp-1', { capabilities: [{ name: 'warp' }] });
    expect(badCapability.status).toBe(400);
    expect(badCapability.body.error.code).toBe('VALIDATION_FAILED');
    const stranger = await api<ErrorBody>('PATCH', '/v1/devices/lamp-1', { ownerUserId: otherAdmin.id });
    expect(stranger.status).toBe(400);
    expect(stranger.body.error.message).toMatch(/not a member/);
    expect((await api<Detail>('GET', '/v1/devices/lamp-1')).body).toMatchObject({ room: null, ownerUserId: member.id, capabilities: [{ name: 'brightness' }, { name: 'power' }] });
    // A member may not manage devices (device.manage needs admin).
    expect((await api<ErrorBody>('PATCH', '/v1/devices/lamp-1', { room: 'Hall' }, member.token)).body.error.code).toBe('POLICY_DENIED');
  });

  async function ownerContext() {
    const { operatorContext } = await import('../../src/auth/operator.js');
    return operatorContext(gw.gateway.core.db, 'fleet');
  }

  it('creates 1 000 devices in one request, each with its own working secret', async () => {
    const devices = Array.from({ length: 1000 }, (_, i) => ({ name: `fleet-${String(i).padStart(4, '0')}`, type: 'sensor', capabilities: [{ name: 'temperature' }], room: `Floor ${i % 7}` }));
    const answer = await api<{ devices: Registered[] }>('POST', '/v1/devices/batch', { devices });
    expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBe(201);
    expect(answer.body.devices).toHaveLength(1000);
    expect(new Set(answer.body.devices.map((d) => d.password)).size).toBe(1000);
    const [stored] = await gw.gateway.core.db.platformQuery<{ devices: string; capabilities: string; audited: string }>(
      `SELECT (SELECT count(*) FROM devices WHERE name LIKE 'fleet-%') AS devices,
              (SELECT count(*) FROM device_capabilities c JOIN devices d ON d.id = c.device_id WHERE d.name LIKE 'fleet-%') AS capabilities,
              (SELECT count(*) FROM security_events e JOIN devices d ON d.id = e.device_id WHERE d.name LIKE 'fleet-%' AND e.event_type = 'DEVICE_CREATED') AS audited`, []);
    expect(stored).toEqual({ devices: '1000', capabilities: '1000', audited: '1000' });
    const last = answer.body.devices[999]!;
    const client = await tcp(last);
    open.push(client);
    await client.publishAsync(`devices/${last.name}/telemetry`, '{"temperature":20}', { qos: 1 });
    expect(await telemetryRows(last.id)).toBe(1);
  }, 180_000);

  it('a batch with bad entries creates nothing and names each bad one by index', async () => {
    await api('POST', '/v1/devices', { name: 'taken-1' });
    const answer = await api<ErrorBody>('POST', '/v1/devices/batch', {
      devices: [{ name: 'ok-1' }, { name: 'ok-2', capabilities: [{ name: 'unlock' }] }, { name: 'ok-1' }, { name: 'taken-1' }, { name: 'ok-3', ownerUserId: otherAdmin.id }],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_FAILED');
    const problems = answer.body.error.details!.problems as { index: number; message: string }[];
    expect(problems.map((p) => p.index)).toEqual([1, 2, 3, 4]);
    expect(problems[0]!.message).toMatch(/"unlock" is a command of the capability "lock"/);
    expect(problems[1]!.message).toMatch(/also entry 0/);
    expect(problems[2]!.message).toMatch(/already exists/);
    expect(problems[3]!.message).toMatch(/not a member/);
    const names = await gw.gateway.core.db.platformQuery('SELECT name FROM devices WHERE name LIKE \'ok-%\'', []);
    expect(names).toEqual([]);
  });

  it('tenant B can read, change, rotate, suspend or delete none of tenant A\'s devices: 404 each, and A\'s device is untouched', async () => {
    const created = (await api<Registered>('POST', '/v1/devices', { name: 'vault-1', displayName: 'Vault' })).body;
    const attempts: [string, string, unknown?][] = [
      ['GET', '/v1/devices/vault-1'],
      ['PATCH', '/v1/devices/vault-1', { displayName: 'Mine now' }],
      ['POST', '/v1/devices/vault-1/secret'],
      ['POST', '/v1/devices/vault-1/suspension', { suspended: true }],
      ['DELETE', '/v1/devices/vault-1'],
      ['DELETE', '/v1/devices/vault-1?purge=true'],
    ];
    for (const [method, url, body] of attempts) {
      const response = await api<ErrorBody>(method, url, body, otherAdmin.token);
      expect(response.status, `${method} ${url}`).toBe(404);
      expect(response.body.error.code, `${method} ${url}`).toBe('DEVICE_NOT_FOUND');
    }
    expect((await api<Detail>('GET', '/v1/devices/vault-1')).body).toMatchObject({ status: 'active', displayName: 'Vault' });
    const client = await tcp(created);
    open.push(client);
  });

  it('from the mobile channel, each change needs confirm: true (CONFIRMATION_REQUIRED without)', async () => {
    const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'owner@fleet.test', password: 'correct horse battery', tenant: 'fleet', channel: 'mobile' } });
    const mobile = login.body.access_token;
    const refused = async (method: string, url: string, body?: unknown) => {
      const response = await api<ErrorBody>(method, url, body, mobile);
      expect(response.status, `${method} ${url}`).toBe(403);
      expect(response.body.error.code, `${method} ${url}`).toBe('CONFIRMATION_REQUIRED');
    };
    await refused('POST', '/v1/devices', { name: 'phone-paired' });
    await refused('POST', '/v1/devices/batch', { devices: [{ name: 'phone-paired' }] });
    expect((await api('POST', '/v1/devices', { name: 'phone-paired', confirm: true }, mobile)).status).toBe(201);
    await refused('PATCH', '/v1/devices/phone-paired', { room: 'Hall' });
    await refused('POST', '/v1/devices/phone-paired/secret');
    await refused('POST', '/v1/devices/phone-paired/suspension', { suspended: true });
    await refused('DELETE', '/v1/devices/phone-paired');
    expect((await api('PATCH', '/v1/devices/phone-paired', { room: 'Hall', confirm: true }, mobile)).status).toBe(204);
    expect((await api('POST', '/v1/devices/phone-paired/secret', { confirm: true }, mobile)).status).toBe(200);
    expect((await api('DELETE', '/v1/devices/phone-paired?confirm=true', undefined, mobile)).status).toBe(200);
  });

  it('a registered certificate CN logs the device in over mTLS; a CN is unique across tenants and holds no "@"', async () => {
    const created = await api<Registered>('POST', '/v1/devices', { name: 'press-7', certificateCn: 'serial-00A7' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const pem = await issueCertificate(ca, { client: 'serial-00A7' });
    const client = await connect(gw.endpoints.tls!, { ca: gw.endpoints.ca, rejectUnauthorized: true, cert: pem.cert, key: pem.key, username: 'press-7@fleet' });
    open.push(client);
    await client.publishAsync('devices/press-7/telemetry', '{"ok":true}', { qos: 1 });
    expect(await telemetryRows(created.body.id)).toBe(1);
    expect((await api<Detail>('GET', '/v1/devices/press-7')).body.certificateCn).toBe('serial-00A7');

    const clash = await api<ErrorBody>('POST', '/v1/devices', { name: 'press-7', certificateCn: 'serial-00A7' }, otherAdmin.token);
    expect(clash.status).toBe(409);
    expect(clash.body.error).toMatchObject({ code: 'CONFLICT', details: { certificateCn: 'serial-00A7' } });
    // In a batch too; nothing of it is created.
    const batchClash = await api<ErrorBody>('POST', '/v1/devices/batch', { devices: [{ name: 'press-9' }, { name: 'press-7', certificateCn: 'serial-00A7' }] }, otherAdmin.token);
    expect(batchClash.status, JSON.stringify(batchClash.body)).toBe(409);
    expect(batchClash.body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/certificate CN of this batch/) });
    expect((await api<ErrorBody>('GET', '/v1/devices/press-9', undefined, otherAdmin.token)).status).toBe(404);
    expect((await api<ErrorBody>('POST', '/v1/devices', { name: 'press-8', certificateCn: 'press-7@fleet' })).status).toBe(400);
  });

  it('gatehouse device import reads a CSV file through the same service and prints each credential once', async () => {
    const file = path.join(dir, 'devices.csv');
    await writeFile(file, 'name,type,capabilities,displayName,room,nicknames\ncsv-1,lock,lock:pin;battery,Front door,Hall,Entrance;Main door\ncsv-2,light,power brightness,,,\n');
    const result = await runCli(['device', 'import', '--tenant', 'fleet', '--file', file, '--json'], gatewayEnv({ DATABASE_URL: gw.gateway.databaseUrl }));
    expect(result.code, result.stderr).toBe(0);
    const { devices } = JSON.parse(result.stdout) as { devices: Registered[] };
    expect(devices.map((d) => d.name)).toEqual(['csv-1', 'csv-2']);
    expect((await api<Detail>('GET', '/v1/devices/csv-1')).body).toMatchObject({
      displayName: 'Front door', room: 'Hall', nicknames: ['Entrance', 'Main door'],
      capabilities: [{ name: 'battery', requiresPin: false }, { name: 'lock', requiresPin: true }],
    });
    const client = await tcp(devices[1]!);
    open.push(client);
    // All or none from the CLI too.
    await writeFile(file, 'name,capabilities\ncsv-3,power\ncsv-1,power\n');
    const refused = await runCli(['device', 'import', '--tenant', 'fleet', '--file', file, '--json'], gatewayEnv({ DATABASE_URL: gw.gateway.databaseUrl }));
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/entry 1 \(csv-1\).*already exists/) } });
    expect((await api<ErrorBody>('GET', '/v1/devices/csv-3')).status).toBe(404);
  }, 60_000);
});
