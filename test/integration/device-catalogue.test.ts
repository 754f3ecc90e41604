import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import type { GatewayEvents } from '../../src/core/event-bus.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { createEmptyDatabase } from '../support/database.js';
import { contextFor } from '../support/fixtures.js';
import { call } from '../support/gateway.js';
import { connect } from '../support/mqtt.js';
import { gatewayEnv, runCli, waitFor } from '../support/processes.js';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };
type Detail = { name: string; type: string; capabilities: { name: string; requiresPin: boolean; requiresApproval: boolean }[] };

/**
 * The capability catalogue at the edges: the CLI and the API register devices
 * only with its types and capabilities, commands are checked against it, the
 * risk of a command on a device is read from it, and several devices' state is
 * read at once, tenant-scoped.
 */
describe('devices every channel understands', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let url: string;
  let admin: { id: string; token: string };
  let viewer: { id: string; token: string };
  const open: MqttClient[] = [];

  const cli = (args: string[]) => runCli([...args, '--json'], gatewayEnv({ DATABASE_URL: url }));
  const detail = (name: string, token = admin.token) => call<Detail & ErrorBody>(gw.base, 'GET', `/v1/devices/${name}`, { token });
  const register = (body: unknown, token = admin.token) => call<Record<string, string> & ErrorBody>(gw.base, 'POST', '/v1/devices', { token, body });

  beforeAll(async () => {
    url = await createEmptyDatabase();
    gw = await startBrokerGateway({ DATABASE_URL: url });
    await gw.tenant('catalogue');
    await gw.tenant('catalogue-rival');
    admin = await gw.user('catalogue', 'admin@catalogue.test', 'admin');
    viewer = await gw.user('catalogue', 'viewer@catalogue.test', 'viewer');
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.endAsync(true).catch(() => undefined)));
    await gw?.close();
  });

  describe('gatehouse device create', () => {
    it('registers a device with a type and catalogue capabilities, keeping the NAME:pin tightening', async () => {
      const result = await cli(['device', 'create', '--tenant', 'catalogue', '--name', 'front-door', '--type', 'lock', '--capability', 'lock:pin', '--capability', 'battery']);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ name: 'front-door', username: 'front-door@catalogue' });
      const device = await detail('front-door');
      expect(device.body).toMatchObject({
        type: 'lock',
        capabilities: [{ name: 'battery', requiresPin: false, requiresApproval: false }, { name: 'lock', requiresPin: true, requiresApproval: false }],
      });
    });

    it.each([
      [['--type', 'toaster'], 'toaster', /Unknown device type "toaster"/],
      [['--capability', 'teleport'], 'teleport', /Unknown capability "teleport"/],
      // A command name, as devices were registered before the catalogue: the message says where it belongs.
      [['--capability', 'unlock:pin'], 'unlock', /"unlock" is a command of the capability "lock"/],
    ])('refuses %j with VALIDATION_FAILED naming it, and registers nothing', async (flags, named, message) => {
      const result = await cli(['device', 'create', '--tenant', 'catalogue', '--name', `refused-${named}`, ...flags]);
      expect(result.code).not.toBe(0);
      const { error } = JSON.parse(result.stdout) as ErrorBody;
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toMatch(message);
      expect((await detail(`refused-${named}`)).body.error.code).toBe('DEVICE_NOT_FOUND');
    });
  });

  describe('POST /v1/devices', () => {
    it('registers a device and announces device.registered after the commit, with its tenant', async () => {
      const seen: { event: GatewayEvents['device.registered']; rows: number }[] = [];
      const owner = {};
      gw.gateway.core.events.on('device.registered', (event) => {
        if (event.deviceName !== 'garage-1') return;
        // Read on another connection: the row must already be committed.
        void gw.gateway.core.db.platformQuery<{ n: number }>('SELECT count(*)::int AS n FROM devices WHERE id = $1 AND tenant_id = $2', [event.deviceId, event.tenantId])
          .then(([row]) => seen.push({ event, rows: row!.n }));
      }, owner);
      try {
        const created = await register({ name: 'garage-1', type: 'garage', capabilities: [{ name: 'open_close' }, { name: 'contact' }, { name: 'lock', requiresApproval: true }] });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        expect(created.body).toEqual({ id: expect.any(String), name: 'garage-1', username: 'garage-1@catalogue', password: expect.stringMatching(/^gd_/) });
        const me = await call<{ tenant: { id: string } }>(gw.base, 'GET', '/v1/me', { token: admin.token });
        const [announced] = await waitFor(async () => (seen.length > 0 ? seen : undefined), 5_000, 'device.registered');
        expect(announced).toEqual({ event: { tenantId: me.body.tenant.id, deviceId: created.body.id, deviceName: 'garage-1' }, rows: 1 });
        expect((await detail('garage-1')).body).toMatchObject({ type: 'garage', capabilities: [{ name: 'contact' }, { name: 'lock', requiresApproval: true }, { name: 'open_close' }] });
      } finally {
        gw.gateway.core.events.removeOwner(owner);
      }
    });

    it('defaults the type to other', async () => {
      expect((await register({ name: 'plain' })).status).toBe(201);
      expect((await detail('plain')).body).toMatchObject({ type: 'other', capabilities: [] });
    });

    it.each([
      [{ name: 'bad-type', type: 'toaster' }, { type: 'toaster' }],
      [{ name: 'bad-capability', capabilities: [{ name: 'power' }, { name: 'warp_drive' }] }, { capability: 'warp_drive' }],
      [{ name: 'twice', capabilities: [{ name: 'power' }, { name: 'power', requiresPin: true }] }, { capability: 'power' }],
    ])('refuses %j with 400 VALIDATION_FAILED naming what was wrong', async (body, details) => {
      const response = await register(body);
      expect(response.status).toBe(400);
      expect(response.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details });
      expect((await detail(body.name)).status).toBe(404);
    });

    it('is for admins: a viewer is refused', async () => {
      const response = await register({ name: 'viewers-own' }, viewer.token);
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('POLICY_DENIED');
    });

    it('serves the catalogue, with each command\'s parameter schema and risk', async () => {
      const catalogue = await call<{ deviceTypes: string[]; capabilities: { name: string; commands: { name: string; risk: string; params: { properties: Record<string, unknown> } }[] }[] }>(
        gw.base, 'GET', '/v1/capabilities', { token: viewer.token });
      expect(catalogue.status).toBe(200);
      expect(catalogue.body.deviceTypes).toContain('security_panel');
      const lock = catalogue.body.capabilities.find((c) => c.name === 'lock')!;
      expect(lock.commands.map((c) => [c.name, c.risk])).toEqual([['lock', 'normal'], ['unlock', 'sensitive']]);
      const brightness = catalogue.body.capabilities.find((c) => c.name === 'brightness')!;
      expect(brightness.commands[0]!.params.properties).toEqual({ brightness: { type: 'integer', minimum: 0, maximum: 100, description: 'Percent.' } });
    });
  });

  describe('commands checked against the catalogue', () => {
    beforeAll(async () => {
      await gw.device('catalogue', 'blinds-1', [{ name: 'open_close' }]);
    });
    const send = (device: string, body: unknown) => call<Record<string, unknown> & ErrorBody>(gw.base, 'POST', `/v1/devices/${device}/commands`, { token: admin.token, body });

    it('refuses parameters outside the command\'s schema, naming the parameter', async () => {
      const tooFar = await send('blinds-1', { name: 'set_position', params: { position: 150 } });
      expect(tooFar.status).toBe(400);
      expect(tooFar.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { command: 'set_position', parameter: 'position' } });
      const unexpected = await send('blinds-1', { name: 'close', params: { speed: 'slow' } });
      expect(unexpected.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { command: 'close', parameter: 'speed' } });
    });

    it('accepts a command of one of the device\'s capabilities, and denies the others', async () => {
      // set_position opens: sensitive, so the web caller confirms it.
      expect((await send('blinds-1', { name: 'set_position', params: { position: 40 }, confirm: true })).status).toBe(201);
      const other = await send('blinds-1', { name: 'unlock' });
      expect(other.status).toBe(403);
      expect(other.body.error.code).toBe('POLICY_DENIED');
    });

    it('tells the risk of a command on a device: the catalogue\'s, raised by the device\'s tightening', async () => {
      const ctx = await operatorContext(gw.gateway.core.db, 'catalogue');
      const { commands } = gw.gateway.core;
      expect(await commands.riskOf(ctx, 'blinds-1', 'open')).toMatchObject({ capability: 'open_close', catalogueRisk: 'sensitive', risk: 'sensitive', requiresApproval: false });
      expect(await commands.riskOf(ctx, 'blinds-1', 'stop')).toMatchObject({ risk: 'normal' });
      await gw.device('catalogue', 'vault', [{ name: 'lock', requiresApproval: true }, { name: 'factory_reset' }]);
      expect(await commands.riskOf(ctx, 'vault', 'lock')).toMatchObject({ catalogueRisk: 'normal', risk: 'critical', requiresApproval: true });
      expect(await commands.riskOf(ctx, 'vault', 'factory_reset')).toMatchObject({ catalogueRisk: 'critical', risk: 'critical', requiresApproval: true });
      await expect(commands.riskOf(ctx, 'vault', 'open')).rejects.toMatchObject({ code: 'POLICY_DENIED' });
      const rival = await operatorContext(gw.gateway.core.db, 'catalogue-rival');
      await expect(commands.riskOf(rival, 'vault', 'lock')).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    });
  });

  describe('state of several devices in one read', () => {
    it('answers state, presence and last seen of the tenant\'s devices, and names the rest missing', async () => {
      const lamp = await gw.device('catalogue', 'lamp', [{ name: 'power' }, { name: 'brightness' }]);
      await gw.device('catalogue', 'dark-sensor', [{ name: 'motion' }]);
      await gw.device('catalogue-rival', 'rival-lamp', [{ name: 'power' }]);
      const client = await connect(gw.endpoints.tcp, { username: lamp.username, password: lamp.password });
      open.push(client);
      await client.publishAsync('devices/lamp/state', JSON.stringify({ on: true, brightness: 60, vendor: 'x' }), { qos: 1, retain: true });

      const tenantId = (await call<{ tenant: { id: string } }>(gw.base, 'GET', '/v1/me', { token: admin.token })).body.tenant.id;
      // As Google would ask: a member's context on the google channel.
      const google = contextFor(tenantId, { channel: 'google', roles: ['member'], id: admin.id });
      const names = ['lamp', 'dark-sensor', 'never-registered', 'rival-lamp'];
      const read = await waitFor(async () => {
        const result = await gw.gateway.core.devices.readStates(google, names);
        return result.devices.find((d) => d.name === 'lamp')?.online && result.devices.find((d) => d.name === 'lamp')?.state ? result : undefined;
      }, 10_000, 'the lamp online with its state');
      expect(read.missing).toEqual(['never-registered', 'rival-lamp']);
      expect(read.devices).toEqual([
        {
          id: lamp.id, name: 'lamp', type: 'other', online: true, lastSeenAt: expect.any(Date), displayName: null, nicknames: [], room: null,
          state: { on: true, brightness: 60, vendor: 'x' }, stateUpdatedAt: expect.any(Date),
          reported: { on: true, brightness: 60 }, capabilities: ['brightness', 'power'],
        },
        {
          id: expect.any(String), name: 'dark-sensor', type: 'other', online: false, lastSeenAt: null, displayName: null, nicknames: [], room: null,
          state: null, stateUpdatedAt: null, reported: {}, capabilities: ['motion'],
        },
      ]);

      // The other tenant sees only its own device of these names.
      const rival = await operatorContext(gw.gateway.core.db, 'catalogue-rival');
      const rivalRead = await gw.gateway.core.devices.readStates(rival, names);
      expect(rivalRead.devices.map((d) => d.name)).toEqual(['rival-lamp']);
      expect(rivalRead.missing).toEqual(['lamp', 'dark-sensor', 'never-registered']);
    });

    it('is refused to a channel that may not read devices', async () => {
      const tenantId = (await call<{ tenant: { id: string } }>(gw.base, 'GET', '/v1/me', { token: admin.token })).body.tenant.id;
      const device = contextFor(tenantId, { kind: 'device', channel: 'iot', id: '00000000-0000-7000-8000-0000000000aa' });
      await expect(gw.gateway.core.devices.readStates(device, ['lamp'])).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    });
  });
});
