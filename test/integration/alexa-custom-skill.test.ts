import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import type { Core } from '../../src/core/create-core.js';
import { startSkillSigner, type SkillSigner } from '../fakes/alexa/skill-signer.js';
import { skillRequest, type SkillRequestOptions, type Slots } from '../fakes/alexa/skill-requests.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { metric } from '../support/metrics.js';
import { connect, record, subscribe, until, type Received } from '../support/mqtt.js';
import { ALEXA_VENDOR, linkVoiceAccount } from '../support/oauth.js';

const SKILL = 'amzn1.ask.skill.gatehouse-test';
const WHITE_LABEL = 'amzn1.ask.skill.acme-homes';
const PASSWORD = 'correct horse battery';
const PIN = '2468';
const LOCK_PIN = '1357';
const VILLA_PIN = '8642';
const KEEPER_PIN = '3141';

type SkillResponse = {
  version: string;
  response: {
    outputSpeech?: { type: string; ssml: string };
    card?: { type: string };
    reprompt?: unknown;
    shouldEndSession?: boolean;
    directives?: { type: string; slotToElicit?: string; updatedIntent?: { name: string; slots: Record<string, { value?: string }> } }[];
  };
};

describe('Alexa custom skill: signed requests → POST /voice/alexa → core → real MQTT devices', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let core: Core;
  let signer: SkillSigner;
  let dir: string;
  const tokens: Record<string, string> = {};
  const users: Record<string, string> = {};
  const received: Record<string, Received[]> = {};
  const devices: Record<string, MqttClient> = {};
  const scenes: Record<string, string> = {};

  /** POSTs a body signed as Amazon signs it (or as a test spoils it). */
  async function post(body: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${gw.base}/voice/alexa`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', signaturecertchainurl: signer.urls.good, 'signature-256': signer.sign(body), ...headers },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
  async function ask(type: Parameters<typeof skillRequest>[0], options: Partial<SkillRequestOptions>, intent?: { name: string; slots?: Slots }): Promise<SkillResponse> {
    const answer = await post(JSON.stringify(skillRequest(type, { skillId: SKILL, ...options }, intent)));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body as SkillResponse;
  }
  const intent = (name: string, token: string, slots: Slots = {}, options: Partial<SkillRequestOptions> = {}) => ask('IntentRequest', { token, ...options }, { name, slots });
  const ENTITIES: Record<string, string> = { '&apos;': "'", '&quot;': '"', '&lt;': '<', '&gt;': '>', '&amp;': '&' };
  const spoken = (answer: SkillResponse) => (answer.response.outputSpeech?.ssml ?? '').replace(/<\/?speak>/g, '').replace(/&(apos|quot|lt|gt|amp);/g, (e) => ENTITIES[e]!);
  const refusals = async (reason: string) =>
    (await core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM security_events WHERE event_type = 'VOICE_REQUEST_REFUSED' AND tenant_id IS NULL AND details->>'reason' = $1`, [reason]))[0]!.n;

  /** A device that records its commands and answers each ok. */
  async function online(name: string, credential: { username: string; password: string }) {
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    devices[name] = client;
    received[name] = record(client);
    client.on('message', (topic) => {
      void client.publishAsync(`${topic}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 });
    });
    expect(await subscribe(client, `devices/${name}/commands/+`, 1)).toEqual([1]);
  }
  /**
   * The commands a device received, proven complete by a marker: a `restart`
   * issued after them through the same command service (only the gateway
   * publishes command topics, in the order they were issued).
   */
  async function commandsAt(name: string, tenant = 'home'): Promise<string[]> {
    const marker = await core.commands.issue(await operatorContext(core.db, tenant), name, { name: 'restart' });
    const names = () => received[name]!.map((m) => JSON.parse(m.payload) as { id: string; name: string });
    await until(() => names().some((c) => c.id === marker.id), 5_000, `the marker command at ${name}`);
    return names().filter((c) => c.name !== 'restart').map((c) => c.name);
  }

  beforeAll(async () => {
    signer = await startSkillSigner();
    dir = await mkdtemp(path.join(os.tmpdir(), 'alexa-skill-'));
    await writeFile(path.join(dir, 'root.pem'), signer.rootPem);
    await writeFile(path.join(dir, 'fetch-ca.pem'), signer.fetchCaPem);
    gw = await startBrokerGateway({
      ALEXA_SKILL_IDS: `${SKILL},${WHITE_LABEL}`, ALEXA_SKILL_CERT_HOST: signer.host,
      ALEXA_SKILL_ROOT_CA: path.join(dir, 'root.pem'), ALEXA_SKILL_CERT_FETCH_CA: path.join(dir, 'fetch-ca.pem'), ALEXA_COMMAND_WAIT_MS: '5000',
    });
    core = gw.gateway.core;
    await gw.tenant('home');
    await gw.tenant('cabin');
    const home = await operatorContext(core.db, 'home');
    const cabin = await operatorContext(core.db, 'cabin');
    users.owner = (await core.auth.members.add(home, { email: 'owner@home.test', password: PASSWORD, role: 'owner' })).id;
    users.admin = (await core.auth.members.add(home, { email: 'admin@home.test', password: PASSWORD, role: 'admin' })).id;
    await core.auth.members.add(cabin, { email: 'owner@cabin.test', password: PASSWORD, role: 'owner' });
    await core.voicePins.setFor(home, { email: 'owner@home.test' }, PIN);
    await core.voicePins.setFor(home, { email: 'admin@home.test' }, LOCK_PIN);
    const register = (ctx: typeof home, name: string, type: string, capabilities: { name: string; requiresPin?: boolean; requiresApproval?: boolean }[], displayName?: string) =>
      core.devices.register(ctx, { name, type, displayName, capabilities });
    await online('pump', await register(home, 'pump', 'switch', [{ name: 'power' }, { name: 'restart' }], 'Pump'));
    await online('garage', await register(home, 'garage', 'garage', [{ name: 'open_close' }, { name: 'restart' }], 'Garage'));
    await online('gate', await register(home, 'gate', 'garage', [{ name: 'open_close', requiresPin: true }, { name: 'restart' }], 'Gate'));
    await online('safe', await register(home, 'safe', 'other', [{ name: 'factory_reset' }, { name: 'restart' }], 'Safe'));
    await online('heater', await register(home, 'heater', 'switch', [{ name: 'power', requiresApproval: true }, { name: 'restart' }], 'Heater'));
    const greenhouse = await register(home, 'greenhouse', 'sensor', [{ name: 'temperature' }, { name: 'humidity' }], 'Greenhouse');
    const sensor = await connect(gw.endpoints.tcp, { username: greenhouse.username, password: greenhouse.password });
    await sensor.publishAsync('devices/greenhouse/state', JSON.stringify({ temperature: 21.5, humidity: 60 }), { qos: 1, retain: true });
    await sensor.publishAsync('devices/greenhouse/events/door_opened', JSON.stringify({}), { qos: 1 });
    devices.greenhouse = sensor;
    await devices.garage!.publishAsync('devices/garage/state', JSON.stringify({ position: 0, moving: false }), { qos: 1, retain: true });
    await register(cabin, 'cabin-light', 'light', [{ name: 'power' }], 'Cabin light');
    // A third tenant with a scene of a lock and two lights; the lock is marked PIN, so the scene needs it.
    await gw.tenant('villa');
    const villa = await operatorContext(core.db, 'villa');
    users.villa = (await core.auth.members.add(villa, { email: 'owner@villa.test', password: PASSWORD, role: 'owner' })).id;
    users.keeper = (await core.auth.members.add(villa, { email: 'keeper@villa.test', password: PASSWORD, role: 'admin' })).id;
    await core.voicePins.setFor(villa, { email: 'owner@villa.test' }, VILLA_PIN);
    await core.voicePins.setFor(villa, { email: 'keeper@villa.test' }, KEEPER_PIN);
    await online('front-door', await register(villa, 'front-door', 'lock', [{ name: 'lock', requiresPin: true }, { name: 'restart' }], 'Front door'));
    await online('hall-light', await register(villa, 'hall-light', 'light', [{ name: 'power' }, { name: 'restart' }], 'Hall light'));
    await online('porch-light', await register(villa, 'porch-light', 'light', [{ name: 'power' }, { name: 'restart' }], 'Porch light'));
    scenes.goodNight = (await core.scenes.create(villa, {
      name: 'good night', voice: true,
      commands: [{ device: 'front-door', command: 'lock' }, { device: 'hall-light', command: 'turn_off' }, { device: 'porch-light', command: 'turn_off' }],
    })).id;
    await core.scenes.create(villa, { name: 'party', commands: [{ device: 'hall-light', command: 'turn_on' }] });
    // The state writer flushes on its own beat: polled until both states are stored.
    for (let tries = 0; !(await core.devices.readStates(home, ['garage', 'greenhouse'])).devices.every((d) => d.stateUpdatedAt); tries += 1) {
      if (tries > 250) throw new Error('the retained states were not stored');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const client = await core.auth.oauth.clients.create({ platform: 'alexa', redirectUris: platformRedirectUris('alexa', ALEXA_VENDOR) });
    tokens.owner = await linkVoiceAccount(gw.base, client, { email: 'owner@home.test', password: PASSWORD });
    tokens.admin = await linkVoiceAccount(gw.base, client, { email: 'admin@home.test', password: PASSWORD });
    tokens.cabin = await linkVoiceAccount(gw.base, client, { email: 'owner@cabin.test', password: PASSWORD });
    tokens.villa = await linkVoiceAccount(gw.base, client, { email: 'owner@villa.test', password: PASSWORD });
    tokens.keeper = await linkVoiceAccount(gw.base, client, { email: 'keeper@villa.test', password: PASSWORD });
  });
  afterAll(async () => {
    await Promise.all(Object.values(devices).map((c) => c.endAsync(true).catch(() => undefined)));
    await gw?.close();
    await signer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('verification before anything is read: 400 and a VOICE_REQUEST_REFUSED event', () => {
    async function refusedFor(reason: string, send: () => Promise<{ status: number; body: Record<string, unknown> }>) {
      const before = await refusals(reason);
      const answer = await send();
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'SKILL_REQUEST_REFUSED', details: { reason } });
      expect(await refusals(reason)).toBe(before + 1);
    }
    const launch = (options: Partial<SkillRequestOptions> = {}) => JSON.stringify(skillRequest('LaunchRequest', { skillId: SKILL, token: tokens.owner, ...options }));

    it('a replayed request id is refused the second time', async () => {
      const body = launch();
      expect((await post(body)).status).toBe(200);
      await refusedFor('REQUEST_REPLAYED', () => post(body));
    });

    it('the signing chain is fetched once and kept for the requests after', async () => {
      for (let i = 0; i < 3; i += 1) expect((await post(launch())).status).toBe(200);
      expect(signer.downloads('good')).toBe(1);
    });

    it('a stale and a future timestamp are refused (more than 150 s either way)', async () => {
      await refusedFor('TIMESTAMP_OUT_OF_WINDOW', () => post(launch({ timestamp: new Date(Date.now() - 200_000) })));
      await refusedFor('TIMESTAMP_OUT_OF_WINDOW', () => post(launch({ timestamp: new Date(Date.now() + 200_000) })));
    });

    it('a signature that does not match the body is refused', async () => {
      const body = launch();
      await refusedFor('SIGNATURE_INVALID', () => post(body, { 'signature-256': signer.sign(`${body} `) }));
      await refusedFor('SIGNATURE_INVALID', () => post(body, { 'signature-256': '' }));
    });

    it('a skill id not on the allowlist is refused; a white-label one is served', async () => {
      await refusedFor('SKILL_NOT_ALLOWED', () => post(launch({ skillId: 'amzn1.ask.skill.someone-else' })));
      expect((await post(launch({ skillId: WHITE_LABEL }))).status).toBe(200);
    });

    it('a certificate URL off the rules is refused: not https, another host, another path, another port', async () => {
      const body = launch();
      const { host } = signer;
      for (const url of [`http://${host}/echo.api/echo-api-cert.pem`, `https://evil.example.com/echo.api/echo-api-cert.pem`, `https://${host}/EcHo.aPi/echo-api-cert.pem`, `https://${host.split(':')[0]}:8443/echo.api/echo-api-cert.pem`]) {
        await refusedFor('CERT_URL_INVALID', () => post(body, { signaturecertchainurl: url }));
      }
    });

    it('a chain without echo-api.amazon.com, or leading to another root, is refused', async () => {
      const body = launch();
      await refusedFor('CERT_CHAIN_INVALID', () => post(body, { signaturecertchainurl: signer.urls.noSan, 'signature-256': signer.sign(body, 'noSan') }));
      await refusedFor('CERT_CHAIN_INVALID', () => post(body, { signaturecertchainurl: signer.urls.rogue, 'signature-256': signer.sign(body, 'rogue') }));
    });
  });

  it('no token, a dead one, or one not issued to Alexa gets the LinkAccount card', async () => {
    const web = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'owner@home.test', password: PASSWORD, tenant: 'home' } });
    for (const token of [undefined, 'not-a-token', tokens.owner!.slice(0, -4) + 'AAAA', web.body.access_token]) {
      const answer = await ask('LaunchRequest', { token });
      expect(answer.response.card).toEqual({ type: 'LinkAccount' });
      expect(spoken(answer)).toMatch(/link your Gatehouse account/);
      expect(answer.response.shouldEndSession).toBe(true);
    }
  });

  it('lists the tenant\'s devices (never another tenant\'s), in English and German, audited and counted', async () => {
    const before = await metric(gw.base, 'gatehouse_voice_intents_total', { platform: 'alexa', intent: 'ListDevicesIntent', outcome: 'LISTED' });
    const requestId = `amzn1.echo-api.request.list-${Date.now()}`;
    const english = spoken(await intent('ListDevicesIntent', tokens.owner!, {}, { requestId }));
    expect(english).toMatch(/^You have 6 devices: /);
    for (const name of ['Pump', 'Garage', 'Gate', 'Safe', 'Heater', 'Greenhouse']) expect(english).toContain(name);
    expect(english).not.toContain('Cabin');
    expect(spoken(await intent('ListDevicesIntent', tokens.owner!, {}, { locale: 'de-DE' }))).toMatch(/^Du hast 6 Geräte: .* und /);
    expect(spoken(await intent('ListDevicesIntent', tokens.cabin!))).toBe('You have one device: Cabin light.');
    const audited = await core.db.platformQuery<{ details: Record<string, unknown>; channel: string }>(`SELECT details, channel FROM security_events WHERE event_type = 'VOICE_INTENT' AND details->>'requestId' = $1`, [requestId]);
    expect(audited).toEqual([{ channel: 'alexa', details: { intent: 'ListDevicesIntent', requestId, outcome: 'LISTED' } }]);
    expect(await metric(gw.base, 'gatehouse_voice_intents_total', { platform: 'alexa', intent: 'ListDevicesIntent', outcome: 'LISTED' })).toBe(before + 3);
  });

  it('answers status from the reported state: is the garage open, what is the temperature in the greenhouse', async () => {
    expect(spoken(await intent('DeviceStatusIntent', tokens.owner!, { device: 'the garage', property: { value: 'open', id: 'open' } }))).toBe('Garage: closed.');
    expect(spoken(await intent('DeviceStatusIntent', tokens.owner!, { device: 'greenhouse', property: { value: 'temperature', id: 'temperature' } }))).toBe('Greenhouse: 21.5 degrees.');
    expect(spoken(await intent('DeviceStatusIntent', tokens.owner!, { device: 'Gewächshaus' }, { locale: 'de-DE' }))).toMatch(/^Ich finde kein Gerät/);
    expect(spoken(await intent('DeviceStatusIntent', tokens.owner!, { device: 'greenhouse' }, { locale: 'de-DE' }))).toBe('Greenhouse: 21.5 Grad und Luftfeuchte 60 Prozent.');
  });

  it('tenant A\'s token never finds tenant B\'s device', async () => {
    expect(spoken(await intent('DeviceStatusIntent', tokens.owner!, { device: 'cabin light' }))).toBe('I can\'t find a device called cabin light.');
    expect(spoken(await intent('RunCapabilityIntent', tokens.owner!, { device: 'cabin light', command: { value: 'turn on', id: 'turn_on' } }))).toBe('I can\'t find a device called cabin light.');
  });

  it('tells the recent events of a device', async () => {
    expect(spoken(await intent('RecentEventsIntent', tokens.owner!, { device: 'greenhouse' }))).toMatch(/^Lately at Greenhouse: door opened \d+ minutes ago\.$/);
    expect(spoken(await intent('RecentEventsIntent', tokens.owner!, { device: 'pump' }))).toBe('Nothing has happened at Pump lately.');
  });

  it('runs a normal capability: the device receives the command and the answer confirms; the caller reaches the core unchanged', async () => {
    const requestId = `amzn1.echo-api.request.pump-${Date.now()}`;
    const answer = await intent('RunCapabilityIntent', tokens.owner!, { device: 'pump', command: { value: 'turn on', id: 'turn_on' } }, { requestId });
    expect(spoken(answer)).toBe('Done: Pump, turn on.');
    expect(answer.response.shouldEndSession).toBe(true);
    expect(await commandsAt('pump')).toContain('turn_on');
    const [issued] = await core.db.platformQuery<{ issued_by: Record<string, string>; status: string }>(`SELECT issued_by, status FROM commands WHERE idempotency_key LIKE '%:alexa-skill:' || $1`, [requestId]);
    expect(issued).toMatchObject({ status: 'succeeded', issued_by: { id: users.owner, channel: 'alexa' } });
  });

  it('a PIN-gated command elicits the PIN, a wrong one re-asks, the right one runs; no PIN is ever echoed', async () => {
    const open = { device: 'garage', command: { value: 'open', id: 'open' } };
    const first = await intent('RunCapabilityIntent', tokens.owner!, open);
    expect(spoken(first)).toBe('That needs your voice PIN. What is it?');
    expect(first.response.directives).toEqual([expect.objectContaining({ type: 'Dialog.ElicitSlot', slotToElicit: 'pin' })]);
    const wrong = await intent('RunCapabilityIntent', tokens.owner!, { ...open, pin: '0000' });
    expect(spoken(wrong)).toBe('That PIN didn\'t match. Please say it again.');
    expect(wrong.response.directives?.[0]).toMatchObject({ type: 'Dialog.ElicitSlot', slotToElicit: 'pin' });
    expect(wrong.response.directives?.[0]?.updatedIntent?.slots.pin?.value).toBeUndefined();
    expect(JSON.stringify(wrong)).not.toContain('0000');
    expect(await commandsAt('garage')).not.toContain('open');
    const right = await intent('RunCapabilityIntent', tokens.owner!, { ...open, pin: PIN });
    expect(spoken(right)).toBe('Done: Garage, open.');
    expect(JSON.stringify(right)).not.toContain(PIN);
    expect(await commandsAt('garage')).toContain('open');
  });

  it('five wrong PINs lock out: the session ends, the right PIN is refused too, and the HTTP API holds the lock', async () => {
    const open = { device: 'gate', command: { value: 'open', id: 'open' } };
    for (let i = 1; i <= 4; i += 1) expect(spoken(await intent('RunCapabilityIntent', tokens.admin!, { ...open, pin: '9999' }))).toMatch(/didn't match/);
    const fifth = await intent('RunCapabilityIntent', tokens.admin!, { ...open, pin: '9999' });
    expect(spoken(fifth)).toBe('Too many wrong PINs. Commands that need your PIN are locked for a while.');
    expect(fifth.response.shouldEndSession).toBe(true);
    expect(fifth.response.directives).toBeUndefined();
    const right = await intent('RunCapabilityIntent', tokens.admin!, { ...open, pin: LOCK_PIN });
    expect(spoken(right)).toMatch(/^Too many wrong PINs/);
    const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'admin@home.test', password: PASSWORD, tenant: 'home' } });
    const http = await call(gw.base, 'POST', '/v1/devices/gate/commands', { token: login.body.access_token, body: { name: 'open', confirm: true, pin: LOCK_PIN } });
    expect(http.status).toBe(423);
    expect(http.body.error).toMatchObject({ code: 'PIN_LOCKED' });
    const lockouts = await core.db.platformQuery<{ channel: string }>(`SELECT channel FROM security_events WHERE event_type = 'PIN_LOCKOUT' AND user_id = $1`, [users.admin]);
    expect(lockouts).toEqual([{ channel: 'alexa' }]);
    expect(await commandsAt('gate')).toEqual([]);
  });

  it('a command that needs a person\'s approval is not run by voice, and says so', async () => {
    const answer = await intent('RunCapabilityIntent', tokens.owner!, { device: 'safe', command: { value: 'factory reset', id: 'factory_reset' } });
    expect(spoken(answer)).toBe('Gatehouse doesn\'t allow factory reset on Safe by voice.');
    expect(await commandsAt('safe')).toEqual([]);
  });

  it('a command the tenant put under approval on this device is asked for by voice: the request is sent, and nothing runs until a person approves', async () => {
    const answer = await intent('RunCapabilityIntent', tokens.owner!, { device: 'heater', command: { value: 'turn on', id: 'turn_on' }, pin: PIN });
    expect(spoken(answer)).toBe('Turn on on Heater needs a person\'s approval. I\'ve sent the request.');
    expect(await commandsAt('heater')).toEqual([]);
    const waiting = await core.db.platformQuery<{ status: string }>("SELECT c.status FROM commands c JOIN devices d ON d.id = c.device_id WHERE d.name = 'heater' AND c.name = 'turn_on'", []);
    expect(waiting).toEqual([{ status: 'awaiting_approval' }]);
  });

  describe('scenes by voice, the PIN asked in the dialog (the Smart Home skill cannot offer a scene needing it)', () => {
    const LIGHTS = ['hall-light', 'porch-light'];
    const villaCommands = async () => Object.fromEntries(await Promise.all(['front-door', ...LIGHTS].map(async (name) => [name, await commandsAt(name, 'villa')] as const)));

    it('asks for the PIN; a wrong one runs nothing; the right one runs each command at its device, under the caller\'s context, and tells each result', async () => {
      const first = await intent('ActivateSceneIntent', tokens.villa!, { scene: 'good night' });
      expect(spoken(first)).toBe('That needs your voice PIN. What is it?');
      expect(first.response.directives).toEqual([expect.objectContaining({ type: 'Dialog.ElicitSlot', slotToElicit: 'pin', updatedIntent: expect.objectContaining({ name: 'ActivateSceneIntent' }) })]);
      const wrong = await intent('ActivateSceneIntent', tokens.villa!, { scene: 'good night', pin: '0000' });
      expect(spoken(wrong)).toBe('That PIN didn\'t match. Please say it again.');
      expect(wrong.response.directives?.[0]).toMatchObject({ type: 'Dialog.ElicitSlot', slotToElicit: 'pin' });
      expect(JSON.stringify(wrong)).not.toContain('0000');
      // Proven by a marker behind them at each device: nothing of the scene reached any.
      expect(await villaCommands()).toEqual({ 'front-door': [], 'hall-light': [], 'porch-light': [] });

      const requestId = `amzn1.echo-api.request.scene-${Date.now()}`;
      const right = await intent('ActivateSceneIntent', tokens.villa!, { scene: 'the good night scene', pin: VILLA_PIN }, { requestId });
      expect(spoken(right)).toBe('Scene good night. Front door lock: done, Hall light turn off: done and Porch light turn off: done.');
      expect(right.response.shouldEndSession).toBe(true);
      expect(JSON.stringify(right)).not.toContain(VILLA_PIN);
      expect(await villaCommands()).toEqual({ 'front-door': ['lock'], 'hall-light': ['turn_off'], 'porch-light': ['turn_off'] });
      const issued = await core.db.platformQuery<{ name: string; issued_by: Record<string, string>; status: string }>(
        `SELECT name, issued_by, status FROM commands WHERE idempotency_key LIKE '%:alexa-skill:' || $1 || ':%' ORDER BY idempotency_key`, [requestId]);
      expect(issued).toEqual(['lock', 'turn_off', 'turn_off'].map((name) => ({ name, status: 'succeeded', issued_by: { kind: 'voice', id: users.villa, channel: 'alexa' } })));
      const [activated] = await core.db.platformQuery<{ channel: string; details: Record<string, unknown> }>(
        `SELECT channel, details FROM security_events WHERE event_type = 'SCENE_ACTIVATED' AND details->>'sceneId' = $1`, [scenes.goodNight]);
      expect(activated).toMatchObject({ channel: 'alexa', details: { pin: true } });
    });

    it('"activate good night" heard as a command of a device runs the scene too, and answers in German', async () => {
      const answer = await intent('RunCapabilityIntent', tokens.villa!, { device: 'good night', command: { value: 'aktiviere szene', id: 'activate_scene' }, pin: VILLA_PIN }, { locale: 'de-DE' });
      expect(spoken(answer)).toBe('Szene good night. Front door verriegeln: erledigt, Hall light ausschalten: erledigt und Porch light ausschalten: erledigt.');
      expect(await villaCommands()).toEqual({ 'front-door': ['lock', 'lock'], 'hall-light': ['turn_off', 'turn_off'], 'porch-light': ['turn_off', 'turn_off'] });
    });

    it('five wrong PINs on a scene lock out as for a single command: the session ends, the right PIN is refused, and nothing reached any device', async () => {
      const goodNight = { scene: 'good night' };
      for (let i = 1; i <= 4; i += 1) expect(spoken(await intent('ActivateSceneIntent', tokens.keeper!, { ...goodNight, pin: '9999' }))).toMatch(/didn't match/);
      const fifth = await intent('ActivateSceneIntent', tokens.keeper!, { ...goodNight, pin: '9999' });
      expect(spoken(fifth)).toBe('Too many wrong PINs. Commands that need your PIN are locked for a while.');
      expect(fifth.response.shouldEndSession).toBe(true);
      expect(fifth.response.directives).toBeUndefined();
      expect(spoken(await intent('ActivateSceneIntent', tokens.keeper!, { ...goodNight, pin: KEEPER_PIN }))).toMatch(/^Too many wrong PINs/);
      // The lock is the PIN's, not the scene's: a single command needing it is refused too.
      expect(spoken(await intent('RunCapabilityIntent', tokens.keeper!, { device: 'front door', command: { value: 'unlock', id: 'unlock' }, pin: KEEPER_PIN }))).toMatch(/^Too many wrong PINs/);
      const lockouts = await core.db.platformQuery<{ channel: string }>(`SELECT channel FROM security_events WHERE event_type = 'PIN_LOCKOUT' AND user_id = $1`, [users.keeper]);
      expect(lockouts).toEqual([{ channel: 'alexa' }]);
      expect(await villaCommands()).toEqual({ 'front-door': ['lock', 'lock'], 'hall-light': ['turn_off', 'turn_off'], 'porch-light': ['turn_off', 'turn_off'] });
    });

    it('finds only the caller\'s voice scenes: not one kept off voice, not another tenant\'s', async () => {
      expect(spoken(await intent('ActivateSceneIntent', tokens.villa!, { scene: 'party' }))).toBe('I can\'t find a scene called party.');
      expect(spoken(await intent('ActivateSceneIntent', tokens.owner!, { scene: 'good night', pin: PIN }))).toBe('I can\'t find a scene called good night.');
      const which = await intent('ActivateSceneIntent', tokens.villa!);
      expect(spoken(which)).toBe('Which scene?');
      expect(which.response.directives?.[0]).toMatchObject({ type: 'Dialog.ElicitSlot', slotToElicit: 'scene' });
      expect(await commandsAt('hall-light', 'villa')).toEqual(['turn_off', 'turn_off']);
    });
  });

  it('help, stop and fallback', async () => {
    expect(spoken(await intent('AMAZON.HelpIntent', tokens.owner!))).toMatch(/^You can say/);
    const stop = await intent('AMAZON.StopIntent', tokens.owner!);
    expect([spoken(stop), stop.response.shouldEndSession]).toEqual(['Goodbye.', true]);
    expect(spoken(await intent('AMAZON.FallbackIntent', tokens.owner!, {}, { locale: 'de-DE' }))).toMatch(/^Damit kann ich leider nicht helfen/);
  });
});
