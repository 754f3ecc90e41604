import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import { GOOGLE_PROJECT, linkGoogle } from '../fakes/google/account-link.js';
import { conversationRequest, FakeAssistant, type ConversationParams } from '../fakes/google/conversation.js';
import { answeringDevice, type AnsweringDevice } from '../support/answering-device.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { metric } from '../support/metrics.js';
import { waitFor } from '../support/processes.js';

const PASSWORD = 'correct horse battery';
const MAX_FAILURES = 3;

type Answer = { session: { id: string; params?: Record<string, unknown> }; prompt: { firstSimple: { speech: string } }; scene?: { next?: { name: string } } };

describe('Google conversation webhook: POST /voice/google/conversation', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let assistant: FakeAssistant;
  const tokens: Record<string, string> = {};
  const devices: Record<string, AnsweringDevice> = {};

  async function say(handler: string, email: string, options: Parameters<typeof conversationRequest>[2] = {}): Promise<Answer> {
    const response = await call<Answer>(gw.base, 'POST', '/voice/google/conversation', {
      body: conversationRequest(handler, tokens[email]!, options), headers: { 'google-assistant-signature': await assistant.sign(GOOGLE_PROJECT) },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  }
  const speech = (answer: Answer) => answer.prompt.firstSimple.speech;

  beforeAll(async () => {
    assistant = await new FakeAssistant().start();
    gw = await startBrokerGateway({
      GOOGLE_CONVERSATION_PROJECT_ID: GOOGLE_PROJECT, GOOGLE_CONVERSATION_JWKS_URL: assistant.jwksUrl, GOOGLE_EXECUTE_WAIT_MS: '1500',
      VOICE_PIN_MAX_FAILURES: String(MAX_FAILURES), AUTH_SESSION_CACHE_MS: '0',
    });
    const core = gw.gateway.core;
    await gw.tenant('home');
    const operator = await operatorContext(core.db, 'home');
    for (const [name, displayName, capabilities, state] of [
      ['lamp', 'Desk lamp', ['power', 'brightness'], { on: true, brightness: 40 }],
      ['front-door', undefined, ['lock'], { locked: true }],
    ] as const) {
      const made = await core.devices.register(operator, { name, type: name === 'lamp' ? 'light' : 'lock', ...(displayName ? { displayName } : {}), capabilities: capabilities.map((capability) => ({ name: capability })) });
      devices[name] = await answeringDevice(gw.endpoints.tcp, made, name, { ...state });
    }
    const g = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', GOOGLE_PROJECT) });
    for (const email of ['owner@home.test', 'admin@home.test']) {
      await core.auth.members.add(operator, { email, password: PASSWORD, role: email.startsWith('owner') ? 'owner' : 'admin' });
      const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
      expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: login.body.access_token, body: { pin: '2468', current_password: PASSWORD } })).status).toBe(204);
      tokens[email] = (await linkGoogle(gw.base, { id: g.clientId, secret: g.clientSecret }, email, PASSWORD)).access;
    }
    await waitFor(async () => {
      await core.deviceState.flush();
      const [row] = await core.db.platformQuery<{ n: number }>('SELECT count(*)::int AS n FROM devices d JOIN device_state s ON s.device_id = d.id WHERE d.online', []);
      return row!.n === 2 ? true : undefined;
    }, 10_000, 'both devices online with their state');
  });
  afterAll(async () => {
    await Promise.all(Object.values(devices).map((device) => device.client.endAsync(true).catch(() => undefined)));
    await gw?.close();
    await assistant?.stop();
  });

  it('403 for a signature that is missing, forged, expired or for another project; nothing is answered', async () => {
    const body = conversationRequest('list_devices', tokens['owner@home.test']!);
    const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const signatures = [undefined, await assistant.sign(GOOGLE_PROJECT, { key: forger }), await assistant.sign(GOOGLE_PROJECT, { expiresIn: Math.floor(Date.now() / 1000) - 600 }), await assistant.sign('someone-elses-project')];
    for (const signature of signatures) {
      const response = await call<{ error: { code: string } }>(gw.base, 'POST', '/voice/google/conversation', { body, headers: signature ? { 'google-assistant-signature': signature } : {} });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('REQUEST_SIGNATURE_INVALID');
    }
  });

  it('401 when user.params.bearerToken is dead: garbage, or a token not issued to Google', async () => {
    const web = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'owner@home.test', password: PASSWORD } });
    for (const token of ['not-a-token', web.body.access_token]) {
      const response = await call(gw.base, 'POST', '/voice/google/conversation', {
        body: conversationRequest('list_devices', token), headers: { 'google-assistant-signature': await assistant.sign(GOOGLE_PROJECT) },
      });
      expect(response.status).toBe(401);
    }
  });

  it('"list my devices", "what is the <state> of <device>": short sentences from the core', async () => {
    expect(speech(await say('list_devices', 'owner@home.test'))).toBe('You have 2 devices: front door and Desk lamp.');
    expect(speech(await say('device_state', 'owner@home.test', { params: { device: 'desk lamp', state: 'brightness' } }))).toBe('Desk lamp\'s brightness is 40 percent.');
    expect(speech(await say('device_state', 'owner@home.test', { params: { device: 'Desk lamp' } }))).toBe('Desk lamp is on, brightness 40 percent.');
    expect(speech(await say('device_state', 'owner@home.test', { params: { device: 'garage' } }))).toBe('I do not know that device.');
  });

  it('"run <command> on <device>" reaches the real device, counted and audited as a VOICE_INTENT', async () => {
    const counted = () => metric(gw.base, 'gatehouse_voice_intents_total', { platform: 'google', intent: 'RUN_COMMAND', outcome: 'SUCCESS' });
    const before = await counted();
    const answer = await say('run_command', 'owner@home.test', { params: { device: 'Desk lamp', command: 'turn off' } });
    expect(speech(answer)).toBe('Done. Desk lamp: turn off.');
    expect(devices.lamp!.received.map((command) => command.name)).toContain('turn_off');
    expect(await counted()).toBe(before + 1);
    const [event] = await gw.gateway.core.db.platformQuery<{ channel: string; details: Record<string, unknown> }>(
      `SELECT channel, details FROM security_events WHERE event_type = 'VOICE_INTENT' AND details->>'requestId' = $1`, [answer.session.id]);
    expect(event).toEqual({ channel: 'google', details: { intent: 'RUN_COMMAND', requestId: answer.session.id, device: 'lamp', command: 'turn_off', pinUsed: false, outcome: 'SUCCESS' } });
  });

  it('the PIN gate: asked for in the PIN scene, asked again when wrong, and then the door opens', async () => {
    const sessionId = `pin-${Date.now()}`;
    const asked = await say('run_command', 'owner@home.test', { sessionId, params: { device: 'front door', command: 'unlock' } });
    expect(speech(asked)).toBe('What is your voice PIN?');
    expect(asked.scene?.next?.name).toBe('AskPin');
    expect(devices['front-door']!.received).toEqual([]);
    const pin = (value: string, session: Record<string, unknown>) => say('run_command', 'owner@home.test', { sessionId, scene: 'AskPin', slots: { pin: value }, session });
    const wrong = await pin('1111', asked.session.params!);
    expect(speech(wrong)).toBe('That PIN is wrong. What is your voice PIN?');
    expect(wrong.scene?.next?.name).toBe('AskPin');
    const right = await pin('2468', wrong.session.params!);
    expect(speech(right)).toBe('Done. front door: unlock.');
    expect(devices['front-door']!.received.map((command) => command.name)).toEqual(['unlock']);
  });

  it('a capability marked for acknowledgement asks "are you sure?" first; no cancels, yes runs it', async () => {
    const core = gw.gateway.core;
    const operator = await operatorContext(core.db, 'home');
    await core.voicePolicy.update(operator, 'google', [{ capability: 'power', enabled: true, requiresPin: false, requiresAck: true }]);
    try {
      const before = devices.lamp!.received.length;
      const asked = await say('run_command', 'owner@home.test', { params: { device: 'Desk lamp', command: 'turn on' } });
      expect(speech(asked)).toBe('Are you sure you want to do that to Desk lamp?');
      expect(asked.scene?.next?.name).toBe('AskConfirm');
      const answer = (confirm: string) => say('run_command', 'owner@home.test', { scene: 'AskConfirm', slots: { confirm }, session: asked.session.params! });
      expect(speech(await answer('no'))).toBe('Cancelled.');
      expect(speech(await answer('yes'))).toBe('Done. Desk lamp: turn on.');
      // The yes is the marker: neither the question nor the no sent anything before it.
      expect(devices.lamp!.received.slice(before).map((command) => command.name)).toEqual(['turn_on']);
    } finally {
      await core.voicePolicy.update(operator, 'google', [{ capability: 'power', enabled: true, requiresPin: false }]);
    }
  });

  it(`${MAX_FAILURES} wrong PINs end the conversation, and the right one is refused while locked`, async () => {
    const sessionId = `lock-${Date.now()}`;
    let session = (await say('run_command', 'admin@home.test', { sessionId, params: { device: 'front door', command: 'unlock' } })).session.params!;
    const pin = (value: string, params: ConversationParams = {}) => say('run_command', 'admin@home.test', { sessionId, scene: 'AskPin', slots: { pin: value, ...params }, session });
    for (let i = 1; i < MAX_FAILURES; i++) session = (await pin('0000')).session.params!;
    const locked = await pin('0000');
    expect(speech(locked)).toBe('Too many wrong PINs. Try again later.');
    expect(locked.scene?.next?.name).toBe('actions.scene.END_CONVERSATION');
    const stillLocked = await say('run_command', 'admin@home.test', { params: { device: 'front door', command: 'unlock', pin: '2468' } });
    expect(speech(stillLocked)).toBe('Too many wrong PINs. Try again later.');
  });
});
