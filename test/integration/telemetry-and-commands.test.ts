import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashSecret } from '../../src/auth/secrets.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { metric } from '../support/metrics.js';
import { connect, record, subscribe, until } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

type ErrorBody = { error: { code: string; message: string } };
type Command = { id: string; status: string; result: unknown; device: string; name: string };

describe('telemetry ingest, device reads and commands', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let meter: Credential;
  let lock: Credential;
  let pager: Credential;
  let owner: { id: string; token: string };
  let viewer: { id: string; token: string };
  const open: MqttClient[] = [];

  async function as(credential: Credential, options: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
    const c = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password, ...options });
    open.push(c);
    return c;
  }
  const rows = async (deviceId: string) =>
    Number((await gw.gateway.core.db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE device_id = $1', [deviceId]))[0]!.n);

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('plant');
    await gw.tenant('rival');
    meter = await gw.device('plant', 'meter-1', [{ name: 'restart', requiresPin: true }, { name: 'brightness' }]);
    lock = await gw.device('plant', 'door', [{ name: 'open_close', requiresPin: true }, { name: 'lock' }]);
    pager = await gw.device('plant', 'pager');
    await gw.device('rival', 'meter-1');
    owner = await gw.user('plant', 'owner@plant.test', 'owner');
    viewer = await gw.user('plant', 'viewer@plant.test', 'viewer');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  describe('telemetry', () => {
    it('a QoS 1 PUBACK comes only after the row is committed', async () => {
      const device = await as(meter);
      const before = await rows(meter.id);
      for (let i = 0; i < 50; i++) {
        await device.publishAsync('devices/meter-1/telemetry', JSON.stringify({ i, kw: 1.5 }), { qos: 1 });
        // Read on another connection right after each PUBACK: the row is there.
        expect(await rows(meter.id)).toBe(before + i + 1);
      }
    });

    it('stores any payload under the limit, byte for byte, routes it unchanged, and refuses only an oversized one, with a counter', async () => {
      const device = await as(meter);
      const watcher = await as(await gw.app('plant', 'telemetry-watcher'));
      const seen: { topic: string; payload: Buffer }[] = [];
      watcher.on('message', (topic, payload) => seen.push({ topic, payload }));
      await subscribe(watcher, 'devices/meter-1/telemetry/#');
      const before = await rows(meter.id);
      const tooLarge = () => metric(gw.base, 'gatehouse_telemetry_rejected_total', { reason: 'too_large' });
      const tooLargeBefore = await tooLarge();
      const payloads: [stream: string, payload: Buffer][] = [
        ['raw', Buffer.from([0xa2, 0x61, 0x74, 0xf9, 0x4d, 0x00, 0x1e, 0xff, 0xfe, 0x2c])], // CBOR-ish, a NUL, a record separator, a comma, invalid UTF-8
        ['text', Buffer.from('temperature=21.5')],
        ['number', Buffer.from('21.5')],
        ['string', Buffer.from('"on"')],
        ['array', Buffer.from('[1,2,3]')],
        ['object', Buffer.from('{ "w": 230, "spaced": true }')],
        ['nul-escape', Buffer.from('{"s":"a\\u0000b"}')], // JSON jsonb cannot hold: kept as bytes
        ['lone-surrogate', Buffer.from('"\\ud800"')],
        ['empty', Buffer.alloc(0)],
      ];
      for (const [stream, payload] of payloads) await device.publishAsync(`devices/meter-1/telemetry/${stream}`, payload, { qos: 1 });
      await device.publishAsync('devices/meter-1/telemetry/big', Buffer.alloc(20_000, 0x61), { qos: 1 });
      await device.publishAsync('devices/meter-1/telemetry/marker', '{"marker":1}', { qos: 1 });
      expect(device.connected).toBe(true);
      expect(await rows(meter.id)).toBe(before + payloads.length + 1);
      expect(await tooLarge()).toBe(tooLargeBefore + 1);

      await until(() => seen.some((m) => m.topic.endsWith('/marker')));
      const routed = new Map(seen.map((m) => [m.topic.slice('devices/meter-1/telemetry/'.length), m.payload]));
      for (const [stream, payload] of payloads) expect(routed.get(stream), stream).toEqual(payload);
      expect(routed.has('big')).toBe(false);

      type Item = { stream: string; payload?: unknown; payloadBase64?: string; contentType?: string };
      const stored = await call<{ items: Item[] }>(gw.base, 'GET', `/v1/devices/meter-1/telemetry?limit=${payloads.length + 1}`, { token: viewer.token });
      const byStream = new Map(stored.body.items.map((item) => [item.stream, item]));
      const json = ['number', 'string', 'array', 'object'];
      for (const [stream, payload] of payloads) {
        const item = byStream.get(stream)!;
        if (json.includes(stream)) expect(item, stream).toEqual({ ...item, payload: JSON.parse(payload.toString()) });
        else expect({ bytes: Buffer.from(item.payloadBase64!, 'base64'), type: item.contentType, payload: item.payload }, stream).toEqual({ bytes: payload, type: 'application/octet-stream', payload: undefined });
      }
    });

    it('QoS 0 telemetry is buffered and lands in batches', async () => {
      const device = await as(meter);
      const before = await rows(meter.id);
      const batches = () => metric(gw.base, 'gatehouse_telemetry_batch_rows_count');
      const batchedRows = () => metric(gw.base, 'gatehouse_telemetry_batch_rows_sum');
      const [batchesBefore, batchedRowsBefore] = [await batches(), await batchedRows()];
      for (let i = 0; i < 500; i++) device.publish('devices/meter-1/telemetry', JSON.stringify({ q0: i }), { qos: 0 });
      await waitFor(async () => ((await rows(meter.id)) === before + 500 ? true : undefined), 10_000, 'QoS 0 rows');
      // Observed just after each commit: polled until the batches holding all 500 rows are counted.
      await expect.poll(async () => (await batchedRows()) - batchedRowsBefore, { timeout: 10_000 }).toBeGreaterThanOrEqual(500);
      const written = (await batches()) - batchesBefore;
      expect(written).toBeGreaterThanOrEqual(1);
      // Sent back to back, they waited for company (TELEMETRY_BATCH_DELAY_MS) rather than going one per commit.
      expect(written).toBeLessThan(500);
    });
  });

  describe('reads', () => {
    it('GET /v1/devices and /v1/devices/:name show state, presence, last seen and the telemetry count', async () => {
      const device = await as(meter);
      await device.publishAsync('devices/meter-1/state', '{"mode":"eco"}', { qos: 1 });
      const detail = await waitFor(async () => {
        const response = await call<{ state: unknown; online: boolean; telemetryCount: number; lastSeenAt: string | null }>(gw.base, 'GET', '/v1/devices/meter-1', { token: viewer.token });
        return response.body.online && (response.body.state as { mode?: string } | null)?.mode === 'eco' ? response.body : undefined;
      }, 5_000, 'presence and state');
      expect(detail.telemetryCount).toBe(await rows(meter.id));
      expect(detail.lastSeenAt).toEqual(expect.any(String));
      expect(detail).toMatchObject({ capabilities: [{ name: 'brightness', requiresPin: false }, { name: 'restart', requiresPin: true }] });
      const list = await call<{ name: string }[]>(gw.base, 'GET', '/v1/devices', { token: viewer.token });
      expect(list.body.map((d) => d.name)).toEqual(['door', 'meter-1', 'pager']);
      await device.endAsync();
      await waitFor(async () => ((await call<{ online: boolean }>(gw.base, 'GET', '/v1/devices/meter-1', { token: viewer.token })).body.online ? undefined : true), 5_000, 'offline');
    });

    it('pages telemetry newest first, filtered by stream and time', async () => {
      // Its own device and rows (QoS 1: each committed by its PUBACK), so that it reads only what it wrote.
      const device = await as(pager);
      await device.publishAsync('devices/pager/telemetry/power/l1', '{"w":230}', { qos: 1 });
      for (let n = 0; n < 45; n++) await device.publishAsync('devices/pager/telemetry', JSON.stringify({ n }), { qos: 1 });
      const first = await call<{ items: { payload: Record<string, number>; stream: string }[]; next: string | null }>(gw.base, 'GET', '/v1/devices/pager/telemetry?limit=20', { token: viewer.token });
      expect(first.status).toBe(200);
      expect(first.body.items.map((item) => item.payload)).toEqual(Array.from({ length: 20 }, (_, i) => ({ n: 44 - i })));
      const second = await call<{ items: { payload: Record<string, number> }[]; next: string | null }>(gw.base, 'GET', `/v1/devices/pager/telemetry?limit=20&cursor=${first.body.next}`, { token: viewer.token });
      expect(second.body.items.map((item) => item.payload)).toEqual(Array.from({ length: 20 }, (_, i) => ({ n: 24 - i })));
      const third = await call<{ items: { payload: Record<string, number> }[]; next: string | null }>(gw.base, 'GET', `/v1/devices/pager/telemetry?limit=20&cursor=${second.body.next}`, { token: viewer.token });
      expect(third.body.items.map((item) => item.payload)).toEqual([...Array.from({ length: 5 }, (_, i) => ({ n: 4 - i })), { w: 230 }]);
      const stream = await call<{ items: { stream: string; payload: unknown }[] }>(gw.base, 'GET', '/v1/devices/pager/telemetry?stream=power/l1', { token: viewer.token });
      expect(stream.body.items).toEqual([expect.objectContaining({ stream: 'power/l1', payload: { w: 230 } })]);
      const future = await call<{ items: unknown[] }>(gw.base, 'GET', `/v1/devices/pager/telemetry?from=${new Date(Date.now() + 60_000).toISOString()}`, { token: viewer.token });
      expect(future.body.items).toEqual([]);
      const bad = await call<ErrorBody>(gw.base, 'GET', '/v1/devices/pager/telemetry?from=yesterday', { token: viewer.token });
      expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('another tenant\'s device of the same name is not found', async () => {
      const rival = await gw.user('rival', 'owner@rival.test', 'owner');
      const response = await call<{ telemetryCount: number }>(gw.base, 'GET', '/v1/devices/meter-1', { token: rival.token });
      expect(response.body.telemetryCount).toBe(0);
      const door = await call<ErrorBody>(gw.base, 'GET', '/v1/devices/door', { token: rival.token });
      expect(door.status).toBe(404);
      expect(door.body.error.code).toBe('DEVICE_NOT_FOUND');
    });

    it('the caller\'s context reaches the core unchanged', async () => {
      const spy = vi.spyOn(gw.gateway.core.devices, 'get');
      await call(gw.base, 'GET', '/v1/devices/door', { token: viewer.token, headers: { 'x-active-tenant': 'plant' } });
      const ctx = spy.mock.calls[0]![0];
      spy.mockRestore();
      expect(ctx).toMatchObject({ principal: { kind: 'user', id: viewer.id }, channel: 'web', roles: ['viewer'] });
      expect(Object.isFrozen(ctx)).toBe(true);
    });
  });

  describe('commands', () => {
    it('round trip: API → device → result → succeeded', async () => {
      const device = await as(meter);
      const inbox = record(device);
      await subscribe(device, 'devices/meter-1/commands/+', 1);
      const issued = await call<Command>(gw.base, 'POST', '/v1/devices/meter-1/commands', { token: owner.token, body: { name: 'set_brightness', params: { brightness: 1 }, ttlSeconds: 30 } });
      expect(issued.status).toBe(201);
      expect(issued.body).toMatchObject({ status: 'pending', name: 'set_brightness', device: 'meter-1' });
      await until(() => inbox.length === 1, 5_000, 'the command');
      const message = JSON.parse(inbox[0]!.payload);
      expect(inbox[0]!.topic).toBe(`devices/meter-1/commands/${issued.body.id}`);
      expect(message).toEqual({ id: issued.body.id, name: 'set_brightness', params: { brightness: 1 }, issuedAt: expect.any(String), expiresAt: expect.any(String) });
      const waiting = call<Command>(gw.base, 'GET', `/v1/commands/${issued.body.id}?wait=5s`, { token: viewer.token });
      await device.publishAsync(`devices/meter-1/commands/${issued.body.id}/result`, JSON.stringify({ status: 'ok', latencyMs: 3 }), { qos: 1 });
      const done = await waiting;
      expect(done.body).toMatchObject({ status: 'succeeded', result: { status: 'ok', latencyMs: 3 } });
    });

    it('a command to an offline device is delivered when it connects and subscribes', async () => {
      const issued = await call<Command>(gw.base, 'POST', '/v1/devices/meter-1/commands', { token: owner.token, body: { name: 'set_brightness', params: { brightness: 2 } } });
      const device = await as(meter);
      const inbox = record(device);
      await subscribe(device, 'devices/meter-1/commands/#', 1);
      await until(() => inbox.some((m) => m.topic.endsWith(issued.body.id)), 5_000, 'the outstanding command');
      await waitFor(async () => ((await call<Command>(gw.base, 'GET', `/v1/commands/${issued.body.id}`, { token: viewer.token })).body.status === 'delivered' ? true : undefined), 5_000, 'delivered');
    });

    it('an expired command is never delivered, and its result is ignored', async () => {
      const issued = await call<Command>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'lock', ttlSeconds: 1 } });
      await waitFor(async () => ((await call<Command>(gw.base, 'GET', `/v1/commands/${issued.body.id}`, { token: viewer.token })).body.status === 'expired' ? true : undefined), 5_000, 'expired');
      // The marker: a live command issued after the expired one. Outstanding commands are sent oldest first,
      // in one go, when the device subscribes: once the marker is in, the expired one would have been too.
      const marker = await call<Command>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'lock', ttlSeconds: 300 } });
      const device = await as(lock);
      const inbox = record(device);
      await subscribe(device, 'devices/door/commands/#', 1);
      await until(() => inbox.some((m) => m.topic.endsWith(marker.body.id)), 5_000, 'the marker command');
      expect(inbox.filter((m) => m.topic.endsWith(issued.body.id))).toEqual([]);
      // A result's PUBACK comes once the gateway has dealt with it (stored, or refused for an expired command).
      await device.publishAsync(`devices/door/commands/${issued.body.id}/result`, '{"status":"ok"}', { qos: 1 });
      expect((await call<Command>(gw.base, 'GET', `/v1/commands/${issued.body.id}`, { token: viewer.token })).body.status).toBe('expired');
    });

    it('checks capability, role and PIN through the core', async () => {
      const unknown = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'self-destruct' } });
      expect(unknown.body.error.code).toBe('POLICY_DENIED');
      const viewerTry = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: viewer.token, body: { name: 'lock' } });
      expect(viewerTry.body.error.code).toBe('POLICY_DENIED');
      const noPin = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'open', confirm: true } });
      expect(noPin.status).toBe(403);
      expect(noPin.body.error.code).toBe('PIN_REQUIRED');
      const noPinSet = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'open', confirm: true, pin: '1234' } });
      expect(noPinSet.body.error.code).toBe('PIN_REQUIRED');

      const tenantId = (await call<{ tenant: { id: string } }>(gw.base, 'GET', '/v1/me', { token: owner.token })).body.tenant.id;
      const pinHash = await hashSecret('4321');
      await gw.gateway.core.db.withPlatform((tx) => tx.query('INSERT INTO voice_pins (tenant_id, user_id, pin_hash) VALUES ($1, $2, $3)', [tenantId, owner.id, pinHash]));
      const wrong = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'open', confirm: true, pin: '0000' } });
      expect(wrong.body.error.code).toBe('PIN_INVALID');
      const right = await call<Command>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'open', confirm: true, pin: '4321' } });
      expect(right.status).toBe(201);
      for (let i = 0; i < 5; i++) await call(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'open', confirm: true, pin: '0000' } });
      const locked = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: owner.token, body: { name: 'open', confirm: true, pin: '4321' } });
      expect(locked.status).toBe(423);
      expect(locked.body.error.code).toBe('PIN_LOCKED');
    });

    it('another tenant cannot command a device of the same name', async () => {
      const rival = await gw.user('rival', 'admin@rival.test', 'owner');
      const response = await call<ErrorBody>(gw.base, 'POST', '/v1/devices/door/commands', { token: rival.token, body: { name: 'lock' } });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe('DEVICE_NOT_FOUND');
      const unknownCommand = await call<ErrorBody>(gw.base, 'GET', '/v1/commands/00000000-0000-7000-8000-000000000000', { token: rival.token });
      expect(unknownCommand.body.error.code).toBe('NOT_FOUND');
    });
  });
});
