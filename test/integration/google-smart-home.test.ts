import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import type { CapabilitySpec } from '../../src/core/devices/device-registry.js';
import { GOOGLE_PROJECT, linkGoogle } from '../fakes/google/account-link.js';
import { assertGoogleShape, googleRequests, type Execution, type Intent } from '../fakes/google/smart-home.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { metric } from '../support/metrics.js';
import { connect, subscribe } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';
import { tokenRequest } from '../support/oauth.js';

const PASSWORD = 'correct horse battery';
const MAX_FAILURES = 3;

type Command = { ids: string[]; status: string; errorCode?: string; challengeNeeded?: { type: string }; states?: Record<string, unknown> };
type SyncDevice = { id: string; type: string; traits: string[]; name: { name: string; nicknames?: string[] }; roomHint?: string; willReportState: boolean; attributes: Record<string, unknown> };

describe('Google smart home: POST /voice/google', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let google: { id: string; secret: string };
  const devices: Record<string, Credential> = {};
  const clients: MqttClient[] = [];
  /** Commands each answering device received, by device name. */
  const received: Record<string, { name: string; params: unknown }[]> = {};

  const link = (email: string) => linkGoogle(gw.base, google, email, PASSWORD);

  /** POST /voice/google as Google sends it, the answer checked against Google's documented shape. */
  async function fulfill<T>(intent: Intent, token: string, body: object): Promise<T> {
    const response = await call<T>(gw.base, 'POST', '/voice/google', { token, body });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    assertGoogleShape(intent, response.body);
    return response.body;
  }
  const sync = (token: string) => fulfill<{ payload: { agentUserId: string; devices: SyncDevice[] } }>('sync', token, googleRequests.sync());
  const query = (token: string, ids: string[]) => fulfill<{ payload: { devices: Record<string, Record<string, unknown>> } }>('query', token, googleRequests.query(ids));
  async function execute(token: string, id: string, execution: Execution, requestId?: string): Promise<Command> {
    const body = await fulfill<{ payload: { commands: Command[] } }>('execute', token, googleRequests.execute([{ ids: [id], execution: [execution] }], requestId));
    expect(body.payload.commands).toHaveLength(1);
    return body.payload.commands[0]!;
  }

  /** A real MQTT.js device that answers each command ok and reports the state it now has; `answer: false` never answers. */
  async function device(name: string, state: Record<string, unknown>, answer = true): Promise<void> {
    const client = await connect(gw.endpoints.tcp, { username: devices[name]!.username, password: devices[name]!.password, clientId: `${name}-client` });
    clients.push(client);
    received[name] = [];
    client.on('message', (topic, payload) => {
      const command = JSON.parse(payload.toString()) as { name: string; params: Record<string, unknown> };
      received[name]!.push(command);
      if (!answer) return;
      if (command.name === 'turn_on' || command.name === 'turn_off') state.on = command.name === 'turn_on';
      if (command.name === 'lock' || command.name === 'unlock') state.locked = command.name === 'lock';
      void client.publishAsync(`devices/${name}/state`, JSON.stringify(state), { qos: 1, retain: true })
        .then(() => client.publishAsync(`${topic}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 }))
        .catch(() => undefined); // closed at the end of the file while answering: nothing left to tell
    });
    await subscribe(client, `devices/${name}/commands/+`, 1);
    await client.publishAsync(`devices/${name}/state`, JSON.stringify(state), { qos: 1, retain: true });
  }

  const tokens: Record<string, { access: string; refresh: string }> = {};

  beforeAll(async () => {
    gw = await startBrokerGateway({ GOOGLE_EXECUTE_WAIT_MS: '1500', VOICE_PIN_MAX_FAILURES: String(MAX_FAILURES), AUTH_SESSION_CACHE_MS: '0' });
    const core = gw.gateway.core;
    await gw.tenant('home');
    await gw.tenant('barn');
    const register = async (slug: string, name: string, type: string, capabilities: string[], profile: { displayName?: string; nicknames?: string[]; room?: string } = {}) => {
      const specs: CapabilitySpec[] = capabilities.map((capability) => ({ name: capability }));
      const made = await core.devices.register(await operatorContext(core.db, slug), { name, type, capabilities: specs, ...profile });
      devices[name] = { username: made.username, password: made.password, id: made.id };
    };
    await register('home', 'lamp', 'light', ['power', 'brightness', 'color_temperature'], { displayName: 'Desk lamp', nicknames: ['reading light'], room: 'Study' });
    await register('home', 'front-door', 'lock', ['lock', 'battery'], { room: 'Hall' });
    await register('home', 'thermo', 'thermostat', ['thermostat', 'temperature']);
    await register('home', 'safe-box', 'other', ['factory_reset']);
    await register('home', 'slowpoke', 'switch', ['power']);
    await register('home', 'sleepy', 'switch', ['power']);
    await register('barn', 'barn-light', 'light', ['power']);
    const members = [['owner@home.test', 'owner', 'home'], ['admin@home.test', 'admin', 'home'], ['nopin@home.test', 'member', 'home'], ['farmer@barn.test', 'owner', 'barn']] as const;
    for (const [email, role, slug] of members) await core.auth.members.add(await operatorContext(core.db, slug), { email, password: PASSWORD, role });
    const g = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', GOOGLE_PROJECT) });
    google = { id: g.clientId, secret: g.clientSecret };
    for (const email of ['owner@home.test', 'admin@home.test']) {
      const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
      expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: login.body.access_token, body: { pin: '2468', current_password: PASSWORD } })).status).toBe(204);
    }
    for (const [email] of members) tokens[email] = await link(email);
    await device('lamp', { on: false, brightness: 40, color_temperature: 2700 });
    await device('front-door', { locked: true, jammed: false, battery: 80 });
    await device('thermo', { setpoint: 21, mode: 'heat', temperature: 19.5 });
    await device('slowpoke', { on: false }, false);
    // Presence and retained state are written by the state writer's batches: wait until the four are stored.
    await waitFor(async () => {
      await core.deviceState.flush();
      const [row] = await core.db.platformQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM devices d JOIN device_state s ON s.device_id = d.id WHERE d.online AND d.name IN ('lamp', 'front-door', 'thermo', 'slowpoke')`, [],
      );
      return row!.n === 4 ? true : undefined;
    }, 10_000, 'the devices online with their state');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    await gw?.close();
  });

  it('answers 401 to anything but a live Google token: none, garbage, a web token', async () => {
    const web = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'owner@home.test', password: PASSWORD } });
    for (const token of [undefined, 'not-a-token', web.body.access_token]) {
      const response = await call<{ error: { code: string } }>(gw.base, 'POST', '/voice/google', { token, body: googleRequests.sync() });
      expect(response.status, String(token)).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
  });

  it('records the link at the code exchange: provider google, a stable agentUserId that is not the email', async () => {
    const rows = await gw.gateway.core.db.platformQuery<{ provider: string; provider_user_id: string; email: string }>(
      'SELECT v.provider, v.provider_user_id, u.email FROM voice_accounts v JOIN users u ON u.id = v.user_id ORDER BY u.email', [],
    );
    expect(rows.map((row) => row.email)).toEqual(['admin@home.test', 'farmer@barn.test', 'nopin@home.test', 'owner@home.test']);
    for (const row of rows) {
      expect(row.provider).toBe('google');
      expect(row.provider_user_id).not.toContain('@');
    }
    const { payload } = await sync(tokens['owner@home.test']!.access);
    expect(payload.agentUserId).toBe(rows.find((row) => row.email === 'owner@home.test')!.provider_user_id);
    // A second link of the same person keeps the id.
    await link('owner@home.test');
    expect((await sync(tokens['owner@home.test']!.access)).payload.agentUserId).toBe(payload.agentUserId);
  });

  it('SYNC lists the tenant\'s devices the voice policy exposes, with types, traits, attributes, names and rooms', async () => {
    const { payload } = await sync(tokens['admin@home.test']!.access);
    const byId = Object.fromEntries(payload.devices.map((device) => [device.id, device]));
    // safe-box has only a critical capability: never on voice. barn-light is another tenant's.
    expect(Object.keys(byId).sort()).toEqual(['front-door', 'lamp', 'sleepy', 'slowpoke', 'thermo']);
    expect(byId.lamp).toEqual({
      id: 'lamp', type: 'action.devices.types.LIGHT',
      traits: ['action.devices.traits.OnOff', 'action.devices.traits.Brightness', 'action.devices.traits.ColorSetting'],
      name: { name: 'Desk lamp', nicknames: ['reading light'] }, roomHint: 'Study', willReportState: false,
      attributes: { colorTemperatureRange: { temperatureMinK: 1000, temperatureMaxK: 10000 } },
    });
    expect(byId['front-door']).toMatchObject({ type: 'action.devices.types.LOCK', traits: ['action.devices.traits.LockUnlock', 'action.devices.traits.EnergyStorage'], roomHint: 'Hall' });
    expect(byId.thermo).toMatchObject({
      type: 'action.devices.types.THERMOSTAT', traits: ['action.devices.traits.TemperatureSetting'],
      attributes: { thermostatTemperatureUnit: 'C', availableThermostatModes: ['off', 'heat', 'cool', 'auto', 'eco', 'fan-only'] },
    });
    const barn = await sync(tokens['farmer@barn.test']!.access);
    expect(barn.payload.devices.map((device) => device.id)).toEqual(['barn-light']);
  });

  it('SYNC leaves out a capability the tenant disabled for Google', async () => {
    const core = gw.gateway.core;
    const operator = await operatorContext(core.db, 'home');
    await core.voicePolicy.update(operator, 'google', [{ capability: 'color_temperature', enabled: false, requiresPin: false }]);
    try {
      const { payload } = await sync(tokens['owner@home.test']!.access);
      expect(payload.devices.find((device) => device.id === 'lamp')!.traits).toEqual(['action.devices.traits.OnOff', 'action.devices.traits.Brightness']);
    } finally {
      await core.voicePolicy.update(operator, 'google', [{ capability: 'color_temperature', enabled: true, requiresPin: false }]);
    }
  });

  it('QUERY reads states in one batch: online ones with their traits\' states, offline, and unknown or foreign ids as deviceNotFound', async () => {
    const states = (await query(tokens['owner@home.test']!.access, ['lamp', 'front-door', 'thermo', 'sleepy', 'barn-light', 'nothing'])).payload.devices;
    expect(states.lamp).toEqual({ online: true, status: 'SUCCESS', on: false, brightness: 40, color: { temperatureK: 2700 } });
    expect(states['front-door']).toEqual({
      online: true, status: 'SUCCESS', isLocked: true, isJammed: false,
      descriptiveCapacityRemaining: 'HIGH', capacityRemaining: [{ rawValue: 80, unit: 'PERCENTAGE' }],
    });
    expect(states.thermo).toEqual({ online: true, status: 'SUCCESS', thermostatTemperatureSetpoint: 21, thermostatMode: 'heat', thermostatTemperatureAmbient: 19.5 });
    expect(states.sleepy).toEqual({ online: false, status: 'OFFLINE' });
    expect(states['barn-light']).toEqual({ online: false, status: 'ERROR', errorCode: 'deviceNotFound' });
    expect(states.nothing).toEqual({ online: false, status: 'ERROR', errorCode: 'deviceNotFound' });
  });

  it('EXECUTE OnOff reaches the real device, which answers: SUCCESS with the new state; a retry of the request makes no second command', async () => {
    const requestId = 'google-request-onoff-1';
    const counted = () => metric(gw.base, 'gatehouse_voice_intents_total', { platform: 'google', intent: 'EXECUTE', outcome: 'SUCCESS' });
    const before = await counted();
    const result = await execute(tokens['admin@home.test']!.access, 'lamp', { command: 'action.devices.commands.OnOff', params: { on: true } }, requestId);
    expect(result).toEqual({ ids: ['lamp'], status: 'SUCCESS', states: expect.objectContaining({ online: true, on: true }) });
    expect(received.lamp).toEqual([expect.objectContaining({ name: 'turn_on', params: {} })]);
    const again = await execute(tokens['admin@home.test']!.access, 'lamp', { command: 'action.devices.commands.OnOff', params: { on: true } }, requestId);
    expect(again.status).toBe('SUCCESS');
    expect(received.lamp).toHaveLength(1);
    expect(await counted()).toBe(before + 2);
    // The caller's context reached the core unchanged: the person, as a voice principal, on channel google.
    const [sent] = await gw.gateway.core.db.platformQuery<{ channel: string; principal: { kind: string; id: string }; email: string }>(
      `SELECT e.channel, e.principal, u.email FROM security_events e JOIN users u ON u.id = (e.principal->>'id')::uuid
        WHERE e.event_type = 'COMMAND_SENT' AND e.details->>'command' = 'turn_on' ORDER BY e.created_at DESC LIMIT 1`, [],
    );
    expect(sent).toEqual({ channel: 'google', principal: { kind: 'voice', id: expect.any(String) }, email: 'admin@home.test' });
  });

  it('EXECUTE: a value out of range, a command the device has no trait for, an offline device, another tenant\'s device', async () => {
    const token = tokens['owner@home.test']!.access;
    expect(await execute(token, 'lamp', { command: 'action.devices.commands.BrightnessAbsolute', params: { brightness: 250 } }))
      .toEqual({ ids: ['lamp'], status: 'ERROR', errorCode: 'valueOutOfRange' });
    expect(await execute(token, 'lamp', { command: 'action.devices.commands.LockUnlock', params: { lock: true } }))
      .toEqual({ ids: ['lamp'], status: 'ERROR', errorCode: 'notSupported' });
    expect(await execute(token, 'sleepy', { command: 'action.devices.commands.OnOff', params: { on: true } }))
      .toEqual({ ids: ['sleepy'], status: 'OFFLINE', errorCode: 'deviceOffline' });
    expect(await execute(token, 'barn-light', { command: 'action.devices.commands.OnOff', params: { on: true } }))
      .toEqual({ ids: ['barn-light'], status: 'ERROR', errorCode: 'deviceNotFound' });
    expect(await execute(token, 'safe-box', { command: 'action.devices.commands.OnOff', params: { on: true } }))
      .toEqual({ ids: ['safe-box'], status: 'ERROR', errorCode: 'deviceNotFound' });
  });

  it('EXECUTE on a device that does not answer within the budget: PENDING, the command still pending', async () => {
    const result = await execute(tokens['owner@home.test']!.access, 'slowpoke', { command: 'action.devices.commands.OnOff', params: { on: true } });
    expect(result).toEqual({ ids: ['slowpoke'], status: 'PENDING' });
    expect(received.slowpoke).toHaveLength(1);
    const [row] = await gw.gateway.core.db.platformQuery<{ status: string }>(
      `SELECT c.status FROM commands c JOIN devices d ON d.id = c.device_id WHERE d.name = 'slowpoke' ORDER BY c.created_at DESC LIMIT 1`, [],
    );
    expect(['pending', 'delivered']).toContain(row!.status);
  });

  it('unlock asks for the PIN; wrong PINs fail, then lock the PIN on every channel, even for the right one; another person\'s right PIN unlocks', async () => {
    const unlock = (email: string, pin?: string) => execute(tokens[email]!.access, 'front-door', {
      command: 'action.devices.commands.LockUnlock', params: { lock: false }, ...(pin === undefined ? {} : { challenge: { pin } }),
    });
    expect(await unlock('admin@home.test')).toEqual({ ids: ['front-door'], status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'pinNeeded' } });
    for (let i = 1; i < MAX_FAILURES; i++) {
      expect(await unlock('admin@home.test', '0000')).toEqual({ ids: ['front-door'], status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'challengeFailedPinNeeded' } });
    }
    expect(await unlock('admin@home.test', '0000')).toEqual({ ids: ['front-door'], status: 'ERROR', errorCode: 'tooManyFailedAttempts' });
    expect(await unlock('admin@home.test', '2468')).toEqual({ ids: ['front-door'], status: 'ERROR', errorCode: 'tooManyFailedAttempts' });
    // The same lock holds through the HTTP API (changing the PIN with the current one).
    const web = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'admin@home.test', password: PASSWORD } });
    const viaApi = await call<{ error: { code: string } }>(gw.base, 'PUT', '/v1/me/voice-pin', { token: web.body.access_token, body: { pin: '1357', current_pin: '2468' } });
    expect(viaApi.body.error?.code, JSON.stringify(viaApi.body)).toBe('PIN_LOCKED');
    expect(received['front-door']).toEqual([]);

    const opened = await unlock('owner@home.test', '2468');
    expect(opened).toEqual({ ids: ['front-door'], status: 'SUCCESS', states: expect.objectContaining({ online: true, isLocked: false }) });
    expect(received['front-door']!.map((command) => command.name)).toEqual(['unlock']);
  });

  it('unlock for a person with no PIN: challengeFailedNotSetup', async () => {
    const body = { command: 'action.devices.commands.LockUnlock', params: { lock: false } };
    expect(await execute(tokens['nopin@home.test']!.access, 'front-door', body)).toEqual({ ids: ['front-door'], status: 'ERROR', errorCode: 'challengeFailedNotSetup' });
    expect(await execute(tokens['nopin@home.test']!.access, 'front-door', { ...body, challenge: { pin: '1234' } }))
      .toEqual({ ids: ['front-door'], status: 'ERROR', errorCode: 'challengeFailedNotSetup' });
  });

  it('records a VOICE_INTENT security event per intent, with device, command, PIN used and outcome', async () => {
    const token = tokens['owner@home.test']!.access;
    const requests = [
      ['sync', googleRequests.sync()],
      ['query', googleRequests.query(['lamp'])],
      ['execute', googleRequests.execute([{ ids: ['lamp'], execution: [{ command: 'action.devices.commands.OnOff', params: { on: false } }] }])],
    ] as const;
    for (const [intent, body] of requests) await fulfill(intent, token, body);
    const wrong = googleRequests.execute([{ ids: ['front-door'], execution: [{ command: 'action.devices.commands.LockUnlock', params: { lock: false }, challenge: { pin: '9999' } }] }]);
    await fulfill('execute', token, wrong);
    const ids = [...requests.map(([, body]) => body), wrong].map((request) => request.requestId);
    const rows = await gw.gateway.core.db.platformQuery<{ channel: string; user_id: string; details: Record<string, unknown> }>(
      `SELECT channel, user_id, details FROM security_events WHERE event_type = 'VOICE_INTENT' AND details->>'requestId' = ANY($1::text[]) ORDER BY created_at, id`, [ids],
    );
    expect(rows.every((row) => row.channel === 'google' && row.user_id)).toBe(true);
    expect(rows.map((row) => row.details)).toEqual([
      { intent: 'SYNC', requestId: ids[0], outcome: 'SUCCESS' },
      { intent: 'QUERY', requestId: ids[1], outcome: 'SUCCESS' },
      { intent: 'EXECUTE', requestId: ids[2], device: 'lamp', command: 'action.devices.commands.OnOff', pinUsed: false, outcome: 'SUCCESS' },
      { intent: 'EXECUTE', requestId: ids[3], device: 'front-door', command: 'action.devices.commands.LockUnlock', pinUsed: true, outcome: 'challengeFailedPinNeeded' },
    ]);
  });

  it('ackNeeded for a capability the tenant marks for acknowledgement: nothing is sent until Google returns challenge.ack', async () => {
    const core = gw.gateway.core;
    const operator = await operatorContext(core.db, 'home');
    const setpoint = (celsius: number, challenge?: { ack?: boolean; pin?: string }) => execute(tokens['owner@home.test']!.access, 'thermo', {
      command: 'action.devices.commands.ThermostatTemperatureSetpoint', params: { thermostatTemperatureSetpoint: celsius }, ...(challenge ? { challenge } : {}),
    });
    await core.voicePolicy.update(operator, 'google', [{ capability: 'thermostat', enabled: true, requiresPin: false, requiresAck: true }]);
    try {
      const before = received.thermo!.length;
      expect(await setpoint(22)).toEqual({ ids: ['thermo'], status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'ackNeeded' } });
      expect(await setpoint(22, { ack: true })).toEqual({ ids: ['thermo'], status: 'SUCCESS', states: expect.objectContaining({ online: true, thermostatTemperatureSetpoint: 22 }) });
      // The acknowledged command is the marker: the first request sent nothing before it.
      expect(received.thermo!.slice(before)).toEqual([expect.objectContaining({ name: 'set_setpoint', params: { celsius: 22 } })]);
    } finally {
      await core.voicePolicy.update(operator, 'google', [{ capability: 'thermostat', enabled: true, requiresPin: false }]);
    }
  });

  it('PIN and ack on one capability: ack first (the core\'s order), then the PIN, whose answer stands for the ack too', async () => {
    const core = gw.gateway.core;
    const operator = await operatorContext(core.db, 'home');
    const setpoint = (challenge?: { ack?: boolean; pin?: string }) => execute(tokens['owner@home.test']!.access, 'thermo', {
      command: 'action.devices.commands.ThermostatTemperatureSetpoint', params: { thermostatTemperatureSetpoint: 23 }, ...(challenge ? { challenge } : {}),
    });
    await core.voicePolicy.update(operator, 'google', [{ capability: 'thermostat', enabled: true, requiresPin: true, requiresAck: true }]);
    try {
      const before = received.thermo!.length;
      expect((await setpoint()).challengeNeeded).toEqual({ type: 'ackNeeded' });
      expect((await setpoint({ ack: true })).challengeNeeded).toEqual({ type: 'pinNeeded' });
      expect((await setpoint({ pin: '1111' })).challengeNeeded).toEqual({ type: 'challengeFailedPinNeeded' });
      expect(await setpoint({ pin: '2468' })).toEqual({ ids: ['thermo'], status: 'SUCCESS', states: expect.objectContaining({ thermostatTemperatureSetpoint: 23 }) });
      expect(received.thermo!.slice(before).map((command) => command.name)).toEqual(['set_setpoint']);
    } finally {
      await core.voicePolicy.update(operator, 'google', [{ capability: 'thermostat', enabled: true, requiresPin: false }]);
    }
  });

  it('DISCONNECT forgets the link and ends Google\'s tokens: the access token gets 401, the refresh token invalid_grant', async () => {
    const { access, refresh } = await link('farmer@barn.test');
    const before = (await sync(access)).payload.agentUserId;
    expect(await fulfill('disconnect', access, googleRequests.disconnect())).toEqual({});
    const rows = await gw.gateway.core.db.platformQuery(`SELECT 1 FROM voice_accounts v JOIN users u ON u.id = v.user_id WHERE u.email = 'farmer@barn.test'`, []);
    expect(rows).toEqual([]);
    expect((await call(gw.base, 'POST', '/voice/google', { token: access, body: googleRequests.sync() })).status).toBe(401);
    expect((await call(gw.base, 'POST', '/voice/google', { token: tokens['farmer@barn.test']!.access, body: googleRequests.sync() })).status).toBe(401);
    const refreshed = await tokenRequest(gw.base, google, { grant_type: 'refresh_token', refresh_token: refresh });
    expect(refreshed.body.error).toBe('invalid_grant');
    // Linking again gives Google the same agentUserId.
    expect((await sync((await link('farmer@barn.test')).access)).payload.agentUserId).toBe(before);
  });
  it('a scene (a lock and two lights) is a SYNC device of the Scene trait; ActivateScene asks the PIN, a wrong one runs nothing, the right one runs each command', async () => {
    const core = gw.gateway.core;
    for (const name of ['porch-light', 'path-light']) {
      const made = await core.devices.register(await operatorContext(core.db, 'home'), { name, type: 'light', capabilities: [{ name: 'power' }] });
      devices[name] = { username: made.username, password: made.password, id: made.id };
      await device(name, { on: false });
    }
    const admin = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'admin@home.test', password: PASSWORD } });
    const commands = [{ device: 'front-door', command: 'unlock' }, { device: 'porch-light', command: 'turn_on' }, { device: 'path-light', command: 'turn_on' }];
    const made = await call<{ id: string }>(gw.base, 'POST', '/v1/scenes', { token: admin.body.access_token, body: { name: 'Welcome home', voice: true, commands } });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const id = `scene:${made.body.id}`;
    const token = tokens['owner@home.test']!.access;
    expect((await sync(token)).payload.devices.find((d) => d.id === id)).toEqual({
      id, type: 'action.devices.types.SCENE', traits: ['action.devices.traits.Scene'], name: { name: 'Welcome home' }, willReportState: false, attributes: { sceneReversible: false },
    });
    expect((await query(token, [id])).payload.devices[id]).toEqual({ online: true, status: 'SUCCESS' });
    const activate = (pin?: string) => execute(token, id, { command: 'action.devices.commands.ActivateScene', params: { deactivate: false }, ...(pin ? { challenge: { pin } } : {}) });
    expect(await activate()).toMatchObject({ status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'pinNeeded' } });
    expect(await activate('0000')).toMatchObject({ status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type: 'challengeFailedPinNeeded' } });
    const unlocksBefore = received['front-door']!.filter((c) => c.name === 'unlock').length;
    expect(await activate('2468')).toEqual({ ids: [id], status: 'SUCCESS' });
    // The right PIN's commands arrive; had the refused attempts made any, they would have arrived before them.
    await waitFor(async () => (received['porch-light']!.length === 1 && received['path-light']!.length === 1 ? true : undefined), 10_000, 'the scene\'s light commands');
    await waitFor(async () => (received['front-door']!.filter((c) => c.name === 'unlock').length === unlocksBefore + 1 ? true : undefined), 10_000, 'the scene\'s unlock');
    expect([received['porch-light'], received['path-light']].map((r) => r!.map((c) => c.name))).toEqual([['turn_on'], ['turn_on']]);
  });
});
