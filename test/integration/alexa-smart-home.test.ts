import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, sign } from '../../deploy/alexa-lambda/index.mjs';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import { operatorContext } from '../../src/auth/operator.js';
import type { Core } from '../../src/core/create-core.js';
import { GOOGLE_PROJECT, linkGoogle } from '../fakes/google/account-link.js';
import { googleRequests } from '../fakes/google/smart-home.js';
import { alexaMessageErrors } from '../support/alexa-schema.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { deviceOnline as alexaDevice, directive, linkAlexa, type AlexaEvent } from '../support/alexa-smart-home.js';
import { call } from '../support/gateway.js';
import { waitFor } from '../support/processes.js';

const SKILL = 'amzn1.ask.skill.gatehouse-test';
const SECRET = 'f'.repeat(20) + '0123456789abcdef';
const PASSWORD = 'correct horse battery';
const PIN = '2468';

type Event = AlexaEvent;

describe('Alexa Smart Home: Lambda forwarder → /voice/alexa/smart-home → core → a real MQTT device', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let core: Core;
  let lambda: (event: unknown) => Promise<Record<string, unknown>>;
  let token: string;
  const ids: Record<string, string> = {};
  const open: MqttClient[] = [];

  /** Through the real forwarder; every answer is checked against Amazon's message schema. */
  async function send(message: unknown): Promise<Event> {
    const answer = (await lambda(message)) as Event;
    expect(alexaMessageErrors(answer), JSON.stringify(answer)).toBeUndefined();
    return answer;
  }

  const deviceOnline = async (name: string, credential: { username: string; password: string }, state: (command: { name: string; params: Record<string, unknown> }) => Record<string, unknown>) =>
    open.push(await alexaDevice(gw.endpoints.tcp, name, credential, state));
  const linkAccount = (email: string) => linkAlexa(gw.base, core, email, PASSWORD);

  const intents = async (messageId: string) =>
    (await core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM security_events WHERE event_type = 'VOICE_INTENT' AND details->>'requestId' = $1`, [messageId]))[0]!.n;

  beforeAll(async () => {
    gw = await startBrokerGateway({ ALEXA_SMART_HOME_SECRETS: `${SKILL}=${SECRET}`, VOICE_PIN_MAX_FAILURES: '3', ALEXA_COMMAND_WAIT_MS: '5000' });
    core = gw.gateway.core;
    lambda = createHandler({ GATEHOUSE_URL: gw.base, GATEHOUSE_SKILL_ID: SKILL, GATEHOUSE_SECRET: SECRET });
    await gw.tenant('home');
    await gw.tenant('cabin');
    const home = await operatorContext(core.db, 'home');
    await core.auth.members.add(home, { email: 'owner@home.test', password: PASSWORD, role: 'owner' });
    await core.voicePins.setFor(home, { email: 'owner@home.test' }, PIN);
    const register = async (slug: string, name: string, type: string, capabilities: string[], displayName?: string) => {
      const device = await core.devices.register(await operatorContext(core.db, slug), {
        name, type, displayName, room: 'Hall', capabilities: capabilities.map((c) => ({ name: c.replace(/:pin$/, ''), requiresPin: c.endsWith(':pin') })),
      });
      ids[name] = device.id;
      return device;
    };
    const lamp = await register('home', 'lamp.hall', 'light', ['power', 'brightness'], 'Hall lamp');
    await deviceOnline('lamp.hall', lamp, (c) => (c.name === 'turn_on' ? { on: true } : c.name === 'turn_off' ? { on: false } : { brightness: c.params.brightness }));
    const panel = await register('home', 'alarm', 'security_panel', ['arm_disarm'], 'Alarm');
    await deviceOnline('alarm', panel, (c) => ({ arm_mode: c.name === 'disarm' ? 'disarmed' : c.params.mode }));
    for (const name of ['front-door', 'safe-door']) {
      const lock = await register('home', name, 'lock', [name === 'safe-door' ? 'lock:pin' : 'lock']);
      await deviceOnline(name, lock, (c) => ({ locked: c.name === 'lock', jammed: false }));
    }
    await register('home', 'porch', 'sensor', ['temperature', 'motion']);
    await register('home', 'pump', 'switch', ['power']); // never connects
    await register('home', 'boiler', 'other', ['factory_reset']); // nothing Alexa may use
    await register('cabin', 'cabin-light', 'light', ['power'], 'Cabin light');
    token = await linkAccount('owner@home.test');
    // Presence is written in the state writer's batches: stored now, so that a test run alone finds its devices online.
    await core.deviceState.flush();
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.endAsync(true).catch(() => undefined)));
    await gw?.close();
  });

  it('Discovery lists the tenant\'s devices with the interfaces of their capabilities, and none of another tenant', async () => {
    const answer = await send(directive('Alexa.Discovery', 'Discover', token, undefined));
    expect(answer.event.header).toMatchObject({ namespace: 'Alexa.Discovery', name: 'Discover.Response' });
    const endpoints = answer.event.payload.endpoints as { endpointId: string; friendlyName: string; displayCategories: string[]; capabilities: { interface: string }[] }[];
    const byId = new Map(endpoints.map((e) => [e.endpointId, e]));
    expect([...byId.keys()].sort()).toEqual([ids['lamp.hall'], ids.alarm, ids['front-door'], ids['safe-door'], ids.porch, ids.pump].sort());
    expect(byId.has(ids['cabin-light']!)).toBe(false);
    const interfaces = (id: string) => byId.get(id)!.capabilities.map((c) => c.interface).sort();
    expect(byId.get(ids['lamp.hall']!)).toMatchObject({ friendlyName: 'Hall lamp', displayCategories: ['LIGHT'] });
    expect(interfaces(ids['lamp.hall']!)).toEqual(['Alexa', 'Alexa.BrightnessController', 'Alexa.EndpointHealth', 'Alexa.PowerController']);
    expect(interfaces(ids.alarm!)).toEqual(['Alexa', 'Alexa.EndpointHealth', 'Alexa.SecurityPanelController']);
    expect(byId.get(ids.porch!)!.displayCategories.sort()).toEqual(['MOTION_SENSOR', 'TEMPERATURE_SENSOR']);
    expect(interfaces(ids.porch!)).toEqual(['Alexa', 'Alexa.EndpointHealth', 'Alexa.MotionSensor', 'Alexa.TemperatureSensor']);
  });

  it('TurnOn reaches the device, which answers: a Response with powerState ON; a retry of the same message acts once', async () => {
    const turnOn = directive('Alexa.PowerController', 'TurnOn', token, ids['lamp.hall']);
    const answer = await send(turnOn);
    expect(answer.event.header).toMatchObject({ namespace: 'Alexa', name: 'Response', correlationToken: turnOn.directive.header.correlationToken });
    expect(answer.context!.properties).toEqual(expect.arrayContaining([
      expect.objectContaining({ namespace: 'Alexa.PowerController', name: 'powerState', value: 'ON' }),
      expect.objectContaining({ namespace: 'Alexa.EndpointHealth', name: 'connectivity', value: { value: 'OK' } }),
    ]));
    // The forwarder retrying the same directive a few seconds later (a new signature, the same messageId) acts once.
    const retry = (await createHandler({ GATEHOUSE_URL: gw.base, GATEHOUSE_SKILL_ID: SKILL, GATEHOUSE_SECRET: SECRET }, fetch, () => Date.now() + 3_000)(turnOn)) as Event;
    expect(alexaMessageErrors(retry)).toBeUndefined();
    expect(retry.event.header.name).toBe('Response');
    const commands = await core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM commands WHERE idempotency_key LIKE $1`, [`%alexa:${turnOn.directive.header.messageId}`]);
    expect(commands[0]!.n).toBe(1);
    expect(await intents(turnOn.directive.header.messageId)).toBe(2);
    // The linked person's context reaches the core unchanged: their tenant, the alexa channel, a voice principal.
    const audited = await core.db.platformQuery<{ event_type: string; channel: string; principal: { kind: string; id: string }; slug: string }>(
      `SELECT e.event_type, e.channel, e.principal, t.slug FROM security_events e JOIN tenants t ON t.id = e.tenant_id
        WHERE e.event_type IN ('VOICE_INTENT', 'COMMAND_SENT') AND (e.details->>'requestId' = $1 OR e.details->>'commandId' = $2)`,
      [turnOn.directive.header.messageId, (await core.db.platformQuery<{ id: string }>(`SELECT id FROM commands WHERE idempotency_key LIKE $1`, [`%alexa:${turnOn.directive.header.messageId}`]))[0]!.id],
    );
    const [owner] = await core.db.platformQuery<{ id: string }>(`SELECT id FROM users WHERE email = 'owner@home.test'`, []);
    expect(audited.map((e) => e.event_type).sort()).toEqual(['COMMAND_SENT', 'VOICE_INTENT', 'VOICE_INTENT']);
    for (const event of audited) expect(event).toMatchObject({ channel: 'alexa', principal: { kind: 'voice', id: owner!.id }, slug: 'home' });
    const metrics = await (await fetch(`${gw.base}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_voice_intents_total\{platform="alexa",intent="Alexa.PowerController.TurnOn",outcome="Response"\} [1-9]/);
  });

  it('SetBrightness, then ReportState reads the device\'s state back', async () => {
    const set = await send(directive('Alexa.BrightnessController', 'SetBrightness', token, ids['lamp.hall'], { brightness: 40 }));
    expect(set.context!.properties).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'brightness', value: 40 })]));
    // The device's retained state reaches Postgres through the state writer (flushed every second): read until it is there.
    const report = await waitFor(async () => {
      const answer = await send(directive('Alexa', 'ReportState', token, ids['lamp.hall']));
      return answer.context?.properties.some((p) => p.name === 'brightness' && p.value === 40) ? answer : undefined;
    }, 10_000, 'brightness 40 in a StateReport');
    expect(report.event.header).toMatchObject({ namespace: 'Alexa', name: 'StateReport' });
    expect(report.context!.properties).toEqual(expect.arrayContaining([
      expect.objectContaining({ namespace: 'Alexa.BrightnessController', name: 'brightness', value: 40 }),
      expect.objectContaining({ namespace: 'Alexa.EndpointHealth', name: 'connectivity', value: { value: 'OK' } }),
    ]));
  });

  it('an offline device: ENDPOINT_UNREACHABLE for a command and for ReportState, and nothing is queued', async () => {
    for (const message of [directive('Alexa.PowerController', 'TurnOn', token, ids.pump), directive('Alexa', 'ReportState', token, ids.pump)]) {
      const answer = await send(message);
      expect(answer.event).toMatchObject({ header: { name: 'ErrorResponse' }, endpoint: { endpointId: ids.pump }, payload: { type: 'ENDPOINT_UNREACHABLE' } });
    }
  });

  it('a directive for another tenant\'s endpoint, or one that does not exist, answers NO_SUCH_ENDPOINT', async () => {
    for (const id of [ids['cabin-light']!, randomUUID()]) {
      const answer = await send(directive('Alexa.PowerController', 'TurnOn', token, id));
      expect(answer.event.payload).toMatchObject({ type: 'NO_SUCH_ENDPOINT' });
    }
  });

  it('Disarm checks payload.authorization with the PIN gate: wrong → UNAUTHORIZED, the right one disarms, repeated failures lock', async () => {
    const disarm = (value: string) => directive('Alexa.SecurityPanelController', 'Disarm', token, ids.alarm, { authorization: { type: 'FOUR_DIGIT_PIN', value } });
    // Arming is a normal command: the voice PIN that arm_disarm always needs is about disarming. Alexa sends none for it.
    const arm = await send(directive('Alexa.SecurityPanelController', 'Arm', token, ids.alarm, { armState: 'ARMED_AWAY', bypassType: 'BYPASS_ALL' }));
    expect(arm.event.header, JSON.stringify(arm.event)).toMatchObject({ namespace: 'Alexa.SecurityPanelController', name: 'Arm.Response' });

    const wrong = await send(disarm('1111'));
    expect(wrong.event.header).toMatchObject({ namespace: 'Alexa.SecurityPanelController', name: 'ErrorResponse' });
    expect(wrong.event.payload.type).toBe('UNAUTHORIZED');
    const right = await send(disarm(PIN));
    expect(right.event.header.name).toBe('Response');
    expect(right.context!.properties).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'armState', value: 'DISARMED' })]));

    // VOICE_PIN_MAX_FAILURES=3: the third wrong PIN locks, and then the right one is refused too.
    expect((await send(disarm('1111'))).event.payload.type).toBe('UNAUTHORIZED');
    expect((await send(disarm('2222'))).event.payload.type).toBe('UNAUTHORIZED');
    expect((await send(disarm('3333'))).event.payload.type).toBe('TOO_MANY_FAILED_ATTEMPTS');
    expect((await send(disarm(PIN))).event.payload.type).toBe('TOO_MANY_FAILED_ATTEMPTS');
    const lockouts = await core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM security_events WHERE event_type = 'PIN_LOCKOUT' AND channel = 'alexa'`, []);
    expect(lockouts[0]!.n).toBe(1);

    // One lock for the person on every channel: Google's EXECUTE, and the HTTP API for a device that asks the PIN everywhere, refuse the right PIN too.
    const g = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', GOOGLE_PROJECT) });
    const google = await linkGoogle(gw.base, { id: g.clientId, secret: g.clientSecret }, 'owner@home.test', PASSWORD);
    const execution = { command: 'action.devices.commands.ArmDisarm', params: { arm: false }, challenge: { pin: PIN } };
    const viaGoogle = await call<{ payload: { commands: { errorCode?: string }[] } }>(gw.base, 'POST', '/voice/google', { token: google.access, body: googleRequests.execute([{ ids: ['alarm'], execution: [execution] }]) });
    expect(viaGoogle.body.payload.commands[0]).toMatchObject({ status: 'ERROR', errorCode: 'tooManyFailedAttempts' });
    const web = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'owner@home.test', password: PASSWORD } });
    const viaHttp = await call<{ error: { code: string } }>(gw.base, 'POST', '/v1/devices/safe-door/commands', { token: web.body.access_token, body: { name: 'unlock', pin: PIN, confirm: true } });
    expect([viaHttp.status, viaHttp.body.error.code]).toEqual([423, 'PIN_LOCKED']);
  });

  describe('Unlock: Alexa checked its own voice code, which stands in for the PIN only where the tenant chose so', () => {
    const lockState = (answer: Event) => answer.context?.properties.find((p) => p.name === 'lockState')?.value;
    const commandsOf = async (messageId: string) =>
      (await core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM commands WHERE idempotency_key LIKE $1`, [`%alexa:${messageId}`]))[0]!.n;
    const outcomeOf = async (messageId: string) =>
      (await core.db.platformQuery<{ outcome: string }>(`SELECT details->>'outcome' AS outcome FROM security_events WHERE event_type = 'VOICE_INTENT' AND details->>'requestId' = $1`, [messageId])).map((r) => r.outcome);
    const setVoiceCode = async (platformVoiceCode: boolean) =>
      core.voicePolicy.update(await operatorContext(core.db, 'home'), 'alexa', [{ capability: 'lock', enabled: true, requiresPin: true, platformVoiceCode }]);

    it('by default the lock is discovered and locks, and Unlock answers INSUFFICIENT_PERMISSIONS with nothing sent', async () => {
      await setVoiceCode(false);
      const discovered = (await send(directive('Alexa.Discovery', 'Discover', token, undefined))).event.payload.endpoints as { endpointId: string; capabilities: { interface: string }[] }[];
      expect(discovered.find((e) => e.endpointId === ids['front-door'])!.capabilities.map((c) => c.interface)).toContain('Alexa.LockController');
      expect(lockState(await send(directive('Alexa.LockController', 'Lock', token, ids['front-door'])))).toBe('LOCKED');
      const unlock = directive('Alexa.LockController', 'Unlock', token, ids['front-door']);
      const answer = await send(unlock);
      expect(answer.event).toMatchObject({ header: { namespace: 'Alexa', name: 'ErrorResponse' }, endpoint: { endpointId: ids['front-door'] }, payload: { type: 'INSUFFICIENT_PERMISSIONS' } });
      expect(await commandsOf(unlock.directive.header.messageId)).toBe(0);
      expect(await outcomeOf(unlock.directive.header.messageId)).toEqual(['INSUFFICIENT_PERMISSIONS']);
    });

    it('with platformVoiceCode on, Unlock reaches the lock and is audited as standing on Alexa\'s voice code; a device tightened with :pin still refuses', async () => {
      await setVoiceCode(true);
      const unlock = directive('Alexa.LockController', 'Unlock', token, ids['front-door']);
      const answer = await send(unlock);
      expect(answer.event.header.name).toBe('Response');
      expect(lockState(answer)).toBe('UNLOCKED');
      expect(await outcomeOf(unlock.directive.header.messageId)).toEqual(['Response']);
      const sent = await core.db.platformQuery<{ details: Record<string, unknown> }>(
        `SELECT e.details FROM security_events e JOIN commands c ON c.id::text = e.details->>'commandId' WHERE e.event_type = 'COMMAND_SENT' AND c.idempotency_key LIKE $1`,
        [`%alexa:${unlock.directive.header.messageId}`]);
      expect(sent.map((e) => e.details)).toEqual([expect.objectContaining({ command: 'unlock', platformVoiceCode: true, pin: false })]);

      const safe = directive('Alexa.LockController', 'Unlock', token, ids['safe-door']);
      expect((await send(safe)).event.payload.type).toBe('INSUFFICIENT_PERMISSIONS');
      expect(await commandsOf(safe.directive.header.messageId)).toBe(0);
      await setVoiceCode(false);
    });
  });

  it('a token that is not a live Alexa token answers the credential errors; only those', async () => {
    const web = await (await fetch(`${gw.base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'owner@home.test', password: PASSWORD, tenant: 'home' }) })).json() as { access_token: string };
    for (const bad of ['not-a-token', web.access_token]) {
      expect((await send(directive('Alexa.Discovery', 'Discover', bad, undefined))).event.payload.type).toBe('INVALID_AUTHORIZATION_CREDENTIAL');
    }
    const { kid, key } = core.auth.keys.signingKey();
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({ tenant_id: null, tenants: [], channel: 'alexa', scopes: [], sid: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).setIssuer(gw.gateway.publicUrl).setAudience('gatehouse').setSubject(randomUUID())
      .setJti(randomUUID()).setIssuedAt(past).setNotBefore(past).setExpirationTime(past + 900).sign(key);
    expect((await send(directive('Alexa.Discovery', 'Discover', expired, undefined))).event.payload.type).toBe('EXPIRED_AUTHORIZATION_CREDENTIAL');
  });

  describe('the forwarder\'s signature, checked before the directive is read', () => {
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${gw.base}/voice/alexa/smart-home`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const signed = (body: string, timestamp = Math.floor(Date.now() / 1000), secret = SECRET) =>
      ({ 'x-gatehouse-skill': SKILL, 'x-gatehouse-timestamp': String(timestamp), 'x-gatehouse-signature': sign(secret, String(timestamp), body) });
    const codeOf = async (response: Response) => ({ status: response.status, code: ((await response.json()) as { error?: { code: string } }).error?.code });

    it('refuses a bad HMAC, an old or future timestamp and a replay; none of them reaches the directive', async () => {
      const message = directive('Alexa.PowerController', 'TurnOff', token, ids['lamp.hall']);
      const body = JSON.stringify(message);
      expect(await codeOf(await post(body, signed(body, undefined, 'x'.repeat(40))))).toEqual({ status: 401, code: 'REQUEST_SIGNATURE_INVALID' });
      expect(await codeOf(await post('{not json', signed('{other')))).toEqual({ status: 401, code: 'REQUEST_SIGNATURE_INVALID' });
      expect(await codeOf(await post(body, {}))).toEqual({ status: 401, code: 'REQUEST_SIGNATURE_INVALID' });
      expect(await codeOf(await post(body, signed(body, Math.floor(Date.now() / 1000) - 300)))).toEqual({ status: 401, code: 'REQUEST_STALE' });
      expect(await codeOf(await post(body, signed(body, Math.floor(Date.now() / 1000) + 300)))).toEqual({ status: 401, code: 'REQUEST_STALE' });
      expect(await intents(message.directive.header.messageId)).toBe(0);

      const headers = signed(body);
      const first = await post(body, headers);
      expect(first.status).toBe(200);
      expect(alexaMessageErrors(await first.json())).toBeUndefined();
      expect(await codeOf(await post(body, headers))).toEqual({ status: 409, code: 'REQUEST_REPLAYED' });
      expect(await intents(message.directive.header.messageId)).toBe(1);
    });
  });
  it('scenes without a PIN are SCENE_TRIGGER endpoints; Activate runs each command through the core; a scene needing the PIN is not offered and runs nothing', async () => {
    const heard: Record<string, string[]> = {};
    for (const name of ['hall-a', 'hall-b']) {
      const light = await core.devices.register(await operatorContext(core.db, 'home'), { name, type: 'light', capabilities: [{ name: 'power' }] });
      await deviceOnline(name, light, (c) => ({ on: c.name === 'turn_on' }));
    }
    for (const client of open) client.on('message', (topic, payload) => {
      const device = topic.split('/')[1]!;
      if (!topic.endsWith('/result')) (heard[device] ??= []).push((JSON.parse(payload.toString()) as { name: string }).name);
    });
    const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'owner@home.test', password: PASSWORD } });
    const scene = async (name: string, commands: { device: string; command: string }[]) =>
      (await call<{ id: string }>(gw.base, 'POST', '/v1/scenes', { token: login.body.access_token, body: { name, voice: true, commands } })).body.id;
    const evening = `scene:${await scene('Evening', [{ device: 'hall-a', command: 'turn_on' }, { device: 'hall-b', command: 'turn_on' }])}`;
    const welcome = `scene:${await scene('Welcome', [{ device: 'front-door', command: 'unlock' }, { device: 'hall-a', command: 'turn_on' }])}`;
    const endpoints = (await send(directive('Alexa.Discovery', 'Discover', token, undefined))).event.payload.endpoints as { endpointId: string; displayCategories: string[]; capabilities: { interface: string }[] }[];
    const offered = endpoints.find((e) => e.endpointId === evening);
    expect(offered).toMatchObject({ displayCategories: ['SCENE_TRIGGER'], capabilities: [{ interface: 'Alexa' }, { interface: 'Alexa.SceneController' }] });
    expect(endpoints.some((e) => e.endpointId === welcome)).toBe(false);

    const refused = await send(directive('Alexa.SceneController', 'Activate', token, welcome));
    expect(refused.event.header.name).toBe('ErrorResponse');
    const started = await send(directive('Alexa.SceneController', 'Activate', token, evening));
    expect(started.event.header).toMatchObject({ namespace: 'Alexa.SceneController', name: 'ActivationStarted' });
    // Evening's commands arrive; had the refused Welcome made any, hall-a would have heard its turn_on first.
    await waitFor(async () => (heard['hall-b']?.length === 1 && heard['hall-a']?.length === 1 ? true : undefined), 10_000, 'the scene\'s commands');
    expect([heard['hall-a'], heard['hall-b'], heard['front-door'] ?? []]).toEqual([['turn_on'], ['turn_on'], []]);
  });
});
