import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppCredential } from '../../src/auth/app-credentials.js';
import { automationContext } from '../../src/auth/automation-principal.js';
import type { CapabilitySpec } from '../../src/core/devices/device-registry.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { contextFor } from '../support/fixtures.js';
import { call } from '../support/gateway.js';
import { connect, record, subscribe, until, type Received } from '../support/mqtt.js';
import { FakeApns } from '../support/push-fakes/fake-apns.js';
import { fakeTls } from '../support/push-fakes/push-tls.js';
import { waitFor } from '../support/processes.js';

type Person = { id: string; token: string; phone: string };
type Run = {
  id: string; status: string; trigger: Record<string, unknown>; depth: number; causedBy: string | null; late: boolean;
  conditions: { passed: boolean }[]; actions: { kind: string; ok: boolean; startedAt: string; finishedAt: string; result: Record<string, unknown> }[];
};
type Device = { client: MqttClient; inbox: Received[]; commands: () => { id: string; name: string }[] };
type Aps = { aps: { alert: { title: string; body: string } } };

const KEY_ID = 'KEY0000001';
const TEAM = 'TEAM000001';
const LOOP_BOUND = 3;

/**
 * Scenes and automations with the real gateway: real MQTT devices, the run
 * outbox and its runner, the command service's gate, the approval flow, push
 * through the outbox to a fake APNs. Each test provisions its own devices.
 */
describe('scenes and automations, end to end', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let apns: FakeApns;
  let dir: string;
  let tenantA: { id: string; slug: string };
  let tenantB: { id: string; slug: string };
  let owner: Person;
  let ownerB: Person;
  const clients: MqttClient[] = [];
  let n = 0;

  async function person(slug: string, role: 'owner' | 'admin' | 'member'): Promise<Person> {
    const who = await gw.user(slug, `p${++n}@${slug}.test`, role);
    const phone = `${'0'.repeat(56)}${String(n).padStart(8, '0')}`;
    const registered = await call(gw.base, 'POST', '/v1/push/tokens', { token: who.token, body: { platform: 'ios', token: phone, appId: 'com.acme.app', environment: 'production', locale: 'en' } });
    expect(registered.status).toBe(201);
    return { ...who, phone };
  }

  /** A device connected over MQTT, subscribed to its commands; `answer` replies to each with this status. */
  async function device(slug: string, name: string, capabilities: CapabilitySpec[], answer?: 'ok' | 'error', onCommand?: (client: MqttClient, command: string) => void): Promise<Device> {
    const credential = await gw.device(slug, name, capabilities);
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    clients.push(client);
    const inbox = record(client);
    await subscribe(client, `devices/${name}/commands/+`, 1);
    if (answer || onCommand) {
      client.on('message', (topic, payload) => {
        const id = topic.split('/')[3];
        if (answer) void client.publishAsync(`devices/${name}/commands/${id}/result`, JSON.stringify({ status: answer }), { qos: 1 });
        onCommand?.(client, (JSON.parse(payload.toString()) as { name: string }).name);
      });
    }
    const commands = () => inbox.map((message) => ({ id: message.topic.split('/')[3]!, name: (JSON.parse(message.payload) as { name: string }).name }));
    return { client, inbox, commands };
  }

  /** "Nothing else arrived": a command sent now from the API arrives after anything sent before it. */
  async function markerCommand(to: Device, deviceName: string, command: string, token = owner.token): Promise<void> {
    const sent = await call<{ id: string }>(gw.base, 'POST', `/v1/devices/${deviceName}/commands`, { token, body: { name: command, confirm: true } });
    expect(sent.status).toBe(201);
    await until(() => to.commands().some((c) => c.id === sent.body.id), 10_000, `the marker command at ${deviceName}`);
  }

  const to = (who: Person) => apns.requests.filter((request) => request.token === who.phone);
  const runsOf = async (id: string, token = owner.token) => (await call<{ items: Run[] }>(gw.base, 'GET', `/v1/automations/${id}/runs`, { token })).body.items;
  const finished = (run: Run) => !['queued', 'running'].includes(run.status);

  async function automation(body: Record<string, unknown>, token = owner.token): Promise<string> {
    const created = await call<{ id: string }>(gw.base, 'POST', '/v1/automations', { token, body });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.id;
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'automations-e2e-'));
    const tls = await fakeTls();
    await writeFile(path.join(dir, 'ca.pem'), tls.ca);
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    apns = await new FakeApns({ tls, teamId: TEAM, keys: { [KEY_ID]: key.publicKey } }).start();
    gw = await startBrokerGateway({
      AUTOMATION_LOOP_BOUND: String(LOOP_BOUND),
      PUSH_APNS_ENDPOINT: `127.0.0.1:${apns.port}`, PUSH_PROVIDER_CA: path.join(dir, 'ca.pem'), PUSH_CREDENTIAL_KEYRING: path.join(dir, 'push.key'),
    });
    tenantA = await gw.tenant('home');
    tenantB = await gw.tenant('other');
    for (const tenant of [tenantA, tenantB]) {
      await gw.gateway.core.pushCredentials.set(tenant.id, {
        provider: 'apns', signingKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: KEY_ID, teamId: TEAM, topic: 'com.acme.app',
      });
    }
    owner = await person('home', 'owner');
    ownerB = await person('other', 'owner');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await gw?.close();
    await apns?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a leak closes the valve and wakes the owner; the run history shows the trigger, the action and both outcomes, audited as the automation principal', async () => {
    const leak = await device('home', 'leak-1', []);
    const valve = await device('home', 'valve-1', [{ name: 'open_close' }], 'ok');
    const id = await automation({
      name: 'leak shuts the water',
      trigger: { kind: 'event', device: 'leak-1', event: 'water' },
      actions: [
        { kind: 'command', device: 'valve-1', command: 'close' },
        { kind: 'notify', to: [owner.id], message: 'Water leak: valve closed', critical: true },
      ],
    });
    await leak.client.publishAsync('devices/leak-1/events/water', '{"level":3}', { qos: 1 });
    await until(() => valve.commands().length === 1, 10_000, 'close at the valve');
    expect(valve.commands()[0]!.name).toBe('close');
    const leakAlert = (request: { body: unknown }) => (request.body as Aps).aps.alert.body === 'leak-1 raised an alarm (Water leak: valve closed).';
    await until(() => to(owner).some(leakAlert), 10_000, 'the push at the owner\'s phone');
    expect(to(owner).filter(leakAlert)).toHaveLength(1);
    expect((to(owner).find(leakAlert)!.body as Aps).aps.alert.title).toBe('Alarm: leak-1');

    const [run] = await waitFor(async () => {
      const runs = await runsOf(id);
      return runs.length === 1 && finished(runs[0]!) ? runs : undefined;
    }, 10_000, 'the run finished');
    expect(run!.status).toBe('succeeded');
    expect(run!.trigger).toMatchObject({ kind: 'event', event: 'water', device: 'leak-1' });
    expect(run!.actions.map((action) => [action.kind, action.ok])).toEqual([['command', true], ['notify', true]]);
    expect(run!.actions[0]!.result).toMatchObject({ commandId: valve.commands()[0]!.id });
    expect(run!.actions[1]!.result).toEqual({ recipients: 1 });
    for (const action of run!.actions) expect(Date.parse(action.finishedAt)).toBeGreaterThanOrEqual(Date.parse(action.startedAt));
    // The valve's own result, as the command service recorded it.
    await waitFor(async () => ((await call<{ status: string }>(gw.base, 'GET', `/v1/commands/${valve.commands()[0]!.id}`, { token: owner.token })).body.status === 'succeeded' ? true : undefined), 10_000, 'the close succeeded');

    const audit = await call<{ items: { type: string; channel: string; principal: unknown; details: Record<string, unknown> }[] }>(gw.base, 'GET', '/v1/security-events?type=AUTOMATION_RUN', { token: owner.token });
    const audited = audit.body.items.find((event) => event.details.runId === run!.id);
    expect(audited).toMatchObject({ channel: 'automation', principal: { kind: 'service', id: 'automation' }, details: { outcome: 'succeeded', trigger: 'event' } });
    const sent = await call<{ items: { channel: string; principal: unknown; details: Record<string, unknown> }[] }>(gw.base, 'GET', '/v1/security-events?type=COMMAND_SENT', { token: owner.token });
    expect(sent.body.items.find((event) => event.details.commandId === valve.commands()[0]!.id)).toMatchObject({ channel: 'automation', principal: { kind: 'service', id: 'automation' } });
  });

  it('a scene with a lock and two lights: refused whole without confirmation or with a wrong PIN, then each command reaches its device', async () => {
    const admin = await person('home', 'admin');
    expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: admin.token, body: { pin: '2468', current_password: 'correct horse battery' } })).status).toBe(204);
    const door = await device('home', 'door-1', [{ name: 'lock', requiresPin: true, requiresApproval: false }], 'ok');
    const hall = await device('home', 'light-1', [{ name: 'power' }], 'ok');
    const porch = await device('home', 'light-2', [{ name: 'power' }], 'ok');
    const created = await call<{ id: string }>(gw.base, 'POST', '/v1/scenes', {
      token: admin.token,
      body: { name: 'good night', voice: true, commands: [{ device: 'door-1', command: 'lock' }, { device: 'light-1', command: 'turn_off' }, { device: 'light-2', command: 'turn_off' }] },
    });
    expect(created.status).toBe(201);
    const activate = (body: Record<string, unknown>) => call<{ error?: { code: string }; results: { device: string; outcome: string; commandId: string; status: string }[] }>(
      gw.base, 'POST', `/v1/scenes/${created.body.id}/activate`, { token: admin.token, body });

    expect((await activate({ pin: '2468' })).body.error?.code).toBe('CONFIRMATION_REQUIRED');
    const wrong = await activate({ confirm: true, pin: '0000' });
    expect([wrong.status, wrong.body.error?.code]).toEqual([403, 'PIN_INVALID']);
    // Nothing ran: a command sent after each refusal is the first each device sees.
    await markerCommand(hall, 'light-1', 'turn_on');
    await markerCommand(porch, 'light-2', 'turn_on');
    expect(hall.commands().map((c) => c.name)).toEqual(['turn_on']);
    expect(porch.commands().map((c) => c.name)).toEqual(['turn_on']);
    expect(door.commands()).toEqual([]);

    const done = await activate({ confirm: true, pin: '2468' });
    expect(done.status).toBe(200);
    expect(done.body.results.map((r) => [r.device, r.outcome, r.status])).toEqual([['door-1', 'issued', 'pending'], ['light-1', 'issued', 'pending'], ['light-2', 'issued', 'pending']]);
    await until(() => door.commands().length === 1 && hall.commands().length === 2 && porch.commands().length === 2, 10_000, 'each command at its device');
    expect([door.commands()[0]!.name, hall.commands()[1]!.name, porch.commands()[1]!.name]).toEqual(['lock', 'turn_off', 'turn_off']);
    expect(door.commands()[0]!.id).toBe(done.body.results[0]!.commandId);
    // The caller's own context reached the command service unchanged: each command is the admin's, from web.
    const sent = await call<{ items: { channel: string; principal: unknown; details: Record<string, unknown> }[] }>(gw.base, 'GET', '/v1/security-events?type=COMMAND_SENT', { token: admin.token });
    for (const result of done.body.results) {
      expect(sent.body.items.find((event) => event.details.commandId === result.commandId)).toMatchObject({ channel: 'web', principal: { kind: 'user', id: admin.id }, details: { confirmed: true } });
    }
    const activated = await call<{ items: { principal: unknown; details: Record<string, unknown> }[] }>(gw.base, 'GET', '/v1/security-events?type=SCENE_ACTIVATED', { token: admin.token });
    expect(activated.body.items.filter((event) => event.details.sceneId === created.body.id)).toEqual([expect.objectContaining({ principal: { kind: 'user', id: admin.id }, details: expect.objectContaining({ pin: true }) })]);
  });

  it('the core\'s voice API: a voice caller sees the scene with its PIN flag, a wrong PIN runs nothing, the right one runs each command', async () => {
    const core = gw.gateway.core;
    const member = await person('home', 'member');
    expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: member.token, body: { pin: '1357', current_password: 'correct horse battery' } })).status).toBe(204);
    const lamp = await device('home', 'lamp-9', [{ name: 'power' }], 'ok');
    const front = await device('home', 'door-9', [{ name: 'lock' }], 'ok');
    const scene = await core.scenes.create(contextFor(tenantA.id, { id: member.id, roles: ['member'] }), {
      name: 'leaving', voice: true, commands: [{ device: 'lamp-9', command: 'turn_off' }, { device: 'door-9', command: 'unlock' }],
    });
    const hidden = await core.scenes.create(contextFor(tenantA.id, { id: member.id, roles: ['member'] }), { name: 'not for voice', commands: [{ device: 'lamp-9', command: 'turn_on' }] });
    const google = contextFor(tenantA.id, { kind: 'voice', id: member.id, channel: 'google', roles: ['member'] });
    // The tenant's voice policy must allow the capabilities on Google.
    const adminCtx = contextFor(tenantA.id, { roles: ['owner'] });
    await core.voicePolicy.update(adminCtx, 'google', [{ capability: 'power', enabled: true, requiresPin: false }, { capability: 'lock', enabled: true, requiresPin: true }]);

    const offered = await core.scenes.forVoice(google);
    expect(offered.find((s) => s.id === scene.id)).toEqual({ id: scene.id, name: 'leaving', pin: true });
    expect(offered.find((s) => s.id === hidden.id)).toBeUndefined();
    await expect(core.scenes.activate(google, hidden.id, { pin: '1357' })).rejects.toMatchObject({ code: 'SCENE_NOT_FOUND' });
    await expect(core.scenes.activate(google, scene.id, {})).rejects.toMatchObject({ code: 'PIN_REQUIRED' });
    await expect(core.scenes.activate(google, scene.id, { pin: '9999' })).rejects.toMatchObject({ code: 'PIN_INVALID' });
    await markerCommand(lamp, 'lamp-9', 'turn_on');
    expect(lamp.commands().map((c) => c.name)).toEqual(['turn_on']);
    expect(front.commands()).toEqual([]);

    const activation = await core.scenes.activate(google, scene.id, { pin: '1357' });
    expect(activation.results.map((r) => [r.device, r.command, r.outcome])).toEqual([['lamp-9', 'turn_off', 'issued'], ['door-9', 'unlock', 'issued']]);
    await until(() => lamp.commands().length === 2 && front.commands().length === 1, 10_000, 'both commands at their devices');
    expect(front.commands()[0]!.name).toBe('unlock');
  });

  it('a critical action becomes an approval request; the device receives it only after a person approves', async () => {
    const button = await device('home', 'button-1', []);
    const safe = await device('home', 'safe-1', [{ name: 'factory_reset' }, { name: 'power' }], 'ok');
    const id = await automation({ name: 'panic wipe', trigger: { kind: 'event', device: 'button-1', event: 'pressed/#' }, actions: [{ kind: 'command', device: 'safe-1', command: 'factory_reset' }] });
    await button.client.publishAsync('devices/button-1/events/pressed/long', '{}', { qos: 1 });
    const [run] = await waitFor(async () => {
      const runs = await runsOf(id);
      return runs.length === 1 && finished(runs[0]!) ? runs : undefined;
    }, 10_000, 'the run finished');
    expect(run!.actions[0]!.result).toMatchObject({ status: 'awaiting_approval' });
    const commandId = run!.actions[0]!.result.commandId as string;
    await markerCommand(safe, 'safe-1', 'turn_on');
    expect(safe.commands().map((c) => c.name)).toEqual(['turn_on']);

    // The automation principal can never approve, whatever it holds.
    const robot = (await automationContext(gw.gateway.core.db, tenantA.id))!;
    await expect(gw.gateway.core.approvals.approve(robot, commandId)).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    const approved = await call<{ status: string }>(gw.base, 'POST', `/v1/commands/${commandId}/approve`, { token: owner.token });
    expect([approved.status, approved.body.status]).toEqual([200, 'pending']);
    await until(() => safe.commands().some((c) => c.id === commandId), 10_000, 'factory_reset at the safe after the approval');
    expect(safe.commands().map((c) => c.name)).toEqual(['turn_on', 'factory_reset']);
  });

  it('an automation that retriggers itself is stopped at its bound, disabled, and raises a security event', async () => {
    // Every command the echo device gets, it answers with the very event that triggers the automation.
    const echo = await device('home', 'echo-1', [{ name: 'power' }], 'ok', (client) => void client.publishAsync('devices/echo-1/events/pressed', '{}', { qos: 1 }));
    const id = await automation({ name: 'echo', trigger: { kind: 'event', device: 'echo-1', event: 'pressed' }, actions: [{ kind: 'command', device: 'echo-1', command: 'turn_on' }] });
    await echo.client.publishAsync('devices/echo-1/events/pressed', '{}', { qos: 1 });
    const runs = await waitFor(async () => {
      const all = await runsOf(id);
      return all.some((run) => run.status === 'loop_stopped') ? all : undefined;
    }, 20_000, 'the loop stopped');
    const byDepth = [...runs].sort((a, b) => a.depth - b.depth);
    expect(byDepth.map((run) => [run.depth, run.status])).toEqual([
      ...Array.from({ length: LOOP_BOUND + 1 }, (_, depth) => [depth, 'succeeded']), [LOOP_BOUND + 1, 'loop_stopped'],
    ]);
    const after = await call<{ enabled: boolean; disabledReason: string }>(gw.base, 'GET', `/v1/automations/${id}`, { token: owner.token });
    expect(after.body).toMatchObject({ enabled: false, disabledReason: 'loop' });
    const events = await call<{ items: { principal: unknown; details: Record<string, unknown> }[] }>(gw.base, 'GET', '/v1/security-events?type=AUTOMATION_LOOP_STOPPED', { token: owner.token });
    expect(events.body.items.find((event) => event.details.automationId === id)).toMatchObject({ principal: { kind: 'service', id: 'automation' }, details: { bound: LOOP_BOUND } });
    // The tenant's owners and admins are told at once, whatever their notification rules say.
    await until(() => to(owner).some((request) => (request.body as Aps).aps.alert.body === 'Security event: automation stopped: it kept triggering itself.'), 10_000, 'the loop alert at the owner\'s phone');
    // And it stays stopped: a press now runs nothing (a marker command arrives right after the last echo).
    await echo.client.publishAsync('devices/echo-1/events/pressed', '{}', { qos: 1 });
    const count = echo.commands().length;
    await markerCommand(echo, 'echo-1', 'turn_off');
    expect(echo.commands().length).toBe(count + 1);
    expect(count).toBe(LOOP_BOUND + 1);
  });

  it('two automations that trigger each other (A -> B -> A ...) are one chain, stopped at the bound with a security event naming both', async () => {
    const alerts = () => to(owner).filter((request) => (request.body as Aps).aps.alert.body === 'Security event: automation stopped: it kept triggering itself.').length;
    const alertsBefore = alerts();
    // Each device answers every turn_on with a press: ping's press makes A turn pong on, pong's press makes B turn ping on.
    // Not the markers' turn_off: B stays enabled, so a press from pong's marker would rightly start a new chain.
    const press = (name: string) => (client: MqttClient, command: string) => {
      if (command === 'turn_on') void client.publishAsync(`devices/${name}/events/pressed`, '{}', { qos: 1 });
    };
    const ping = await device('home', 'ping-1', [{ name: 'power' }], 'ok', press('ping-1'));
    const pong = await device('home', 'pong-1', [{ name: 'power' }], 'ok', press('pong-1'));
    const a = await automation({ name: 'ping wakes pong', trigger: { kind: 'event', device: 'ping-1', event: 'pressed' }, actions: [{ kind: 'command', device: 'pong-1', command: 'turn_on' }] });
    const b = await automation({ name: 'pong wakes ping', trigger: { kind: 'event', device: 'pong-1', event: 'pressed' }, actions: [{ kind: 'command', device: 'ping-1', command: 'turn_on' }] });
    await ping.client.publishAsync('devices/ping-1/events/pressed', '{}', { qos: 1 });

    const runsA = await waitFor(async () => {
      const all = await runsOf(a);
      return all.some((run) => run.status === 'loop_stopped') ? all : undefined;
    }, 20_000, 'the loop stopped');
    const runsB = await runsOf(b);
    // One chain, depth by depth, alternating: A 0, B 1, A 2, B 3 ran; A at 4 (past the bound of 3) was stopped.
    const chain = [...runsA.map((run) => ({ ...run, automation: 'A' })), ...runsB.map((run) => ({ ...run, automation: 'B' }))].sort((x, y) => x.depth - y.depth);
    expect(chain.map((run) => [run.automation, run.depth, run.status])).toEqual([
      ...Array.from({ length: LOOP_BOUND + 1 }, (_, depth) => [depth % 2 === 0 ? 'A' : 'B', depth, 'succeeded']), ['A', LOOP_BOUND + 1, 'loop_stopped'],
    ]);
    // Each run names the run whose effect triggered it, of the other automation.
    expect(chain.map((run) => run.causedBy)).toEqual([null, ...chain.slice(0, -1).map((run) => run.id)]);
    expect((await call<{ enabled: boolean; disabledReason: string }>(gw.base, 'GET', `/v1/automations/${a}`, { token: owner.token })).body).toMatchObject({ enabled: false, disabledReason: 'loop' });

    const events = await call<{ items: { principal: unknown; details: Record<string, unknown> }[] }>(gw.base, 'GET', '/v1/security-events?type=AUTOMATION_LOOP_STOPPED', { token: owner.token });
    expect(events.body.items.find((event) => event.details.automationId === a)).toMatchObject({
      principal: { kind: 'service', id: 'automation' },
      details: { bound: LOOP_BOUND, depth: LOOP_BOUND + 1, chain: ['ping wakes pong', 'pong wakes ping'], chainId: chain[0]!.id, causedBy: chain.at(-2)!.id },
    });
    await until(() => alerts() === alertsBefore + 1, 10_000, 'the loop alert at the owner\'s phone');

    // Nothing more went round: each device got its two turn_on, then the marker (sent after the last).
    await markerCommand(ping, 'ping-1', 'turn_off');
    await markerCommand(pong, 'pong-1', 'turn_off');
    expect([ping.commands().map((c) => c.name), pong.commands().map((c) => c.name)]).toEqual([['turn_on', 'turn_on', 'turn_off'], ['turn_on', 'turn_on', 'turn_off']]);
  });

  it('tenant B can neither see nor trigger tenant A\'s scenes and automations, nor be targeted by them', async () => {
    const core = gw.gateway.core;
    await device('other', 'b-light', [{ name: 'power' }]);
    const aLight = await device('home', 'a-light', [{ name: 'power' }], 'ok');
    const scene = await call<{ id: string }>(gw.base, 'POST', '/v1/scenes', { token: owner.token, body: { name: 'a scene', commands: [{ device: 'a-light', command: 'turn_on' }] } });
    const aId = await automation({ name: 'a automation', trigger: { kind: 'event', device: 'a-light', event: 'x' }, actions: [{ kind: 'command', device: 'a-light', command: 'turn_off' }] });

    expect((await call<{ scenes: unknown[] }>(gw.base, 'GET', '/v1/scenes', { token: ownerB.token })).body.scenes).toEqual([]);
    expect((await call<{ automations: unknown[] }>(gw.base, 'GET', '/v1/automations', { token: ownerB.token })).body.automations).toEqual([]);
    for (const [method, url] of [['GET', `/v1/scenes/${scene.body.id}`], ['DELETE', `/v1/scenes/${scene.body.id}`], ['GET', `/v1/automations/${aId}`], ['GET', `/v1/automations/${aId}/runs`], ['DELETE', `/v1/automations/${aId}`]] as const) {
      const answer = await call<{ error: { code: string } }>(gw.base, method, url, { token: ownerB.token });
      expect([url, answer.status]).toEqual([url, 404]);
    }
    const activated = await call<{ error: { code: string } }>(gw.base, 'POST', `/v1/scenes/${scene.body.id}/activate`, { token: ownerB.token, body: { confirm: true } });
    expect([activated.status, activated.body.error.code]).toEqual([404, 'SCENE_NOT_FOUND']);
    // B cannot name A's device, and A cannot name B's device or B's owner.
    const bOnA = await call<{ error: { code: string } }>(gw.base, 'POST', '/v1/automations', { token: ownerB.token, body: { name: 'x', trigger: { kind: 'event', device: 'a-light', event: 'x' }, actions: [{ kind: 'command', device: 'b-light', command: 'turn_on' }] } });
    expect(bOnA.body.error.code).toBe('DEVICE_NOT_FOUND');
    const aOnB = await call<{ error: { code: string } }>(gw.base, 'POST', '/v1/automations', { token: owner.token, body: { name: 'y', trigger: { kind: 'event', device: 'a-light', event: 'x' }, actions: [{ kind: 'command', device: 'b-light', command: 'turn_on' }] } });
    expect(aOnB.body.error.code).toBe('DEVICE_NOT_FOUND');
    const notifyB = await call<{ error: { code: string } }>(gw.base, 'POST', '/v1/automations', { token: owner.token, body: { name: 'z', trigger: { kind: 'event', device: 'a-light', event: 'x' }, actions: [{ kind: 'notify', to: [ownerB.id], message: 'hi' }] } });
    expect(notifyB.body.error.code).toBe('USER_NOT_FOUND');
    const sceneOnB = await call<{ error: { code: string } }>(gw.base, 'POST', '/v1/scenes', { token: owner.token, body: { name: 'b', commands: [{ device: 'b-light', command: 'turn_on' }] } });
    expect(sceneOnB.body.error.code).toBe('DEVICE_NOT_FOUND');
    // B's core context cannot activate A's scene either.
    await expect(core.scenes.activate(contextFor(tenantB.id, { id: ownerB.id }), scene.body.id, { confirm: true })).rejects.toMatchObject({ code: 'SCENE_NOT_FOUND' });
    expect(aLight.commands()).toEqual([]);
    expect(await runsOf(aId)).toEqual([]);
  });

  it('the automation principal is refused member, credential, approval and purge actions, and never edits automations', async () => {
    const core = gw.gateway.core;
    const robot = (await automationContext(core.db, tenantA.id))!;
    expect(robot).toMatchObject({ channel: 'automation', principal: { kind: 'service', id: 'automation' }, roles: [] });
    await expect(core.auth.members.add(robot, { email: 'robot@home.test', password: 'correct horse battery', role: 'member' })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(createAppCredential(core.db, core.policy, robot, { name: 'robot-app' })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(core.approvals.requireSecondPerson(robot, true)).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await device('home', 'purge-me', [{ name: 'power' }]);
    await expect(core.devices.remove(robot, 'purge-me', { purge: true, confirm: true })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(core.automations.create(robot, { name: 'self', trigger: { kind: 'schedule', cron: '0 3 * * *' }, actions: [{ kind: 'command', device: 'purge-me', command: 'turn_on' }] })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    await expect(core.scenes.create(robot, { name: 'self', commands: [{ device: 'purge-me', command: 'turn_on' }] })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    for (const permission of ['tenant.members.manage', 'tenant.apps.manage', 'command.approve', 'data.purge', 'automations.manage']) expect(robot.scopes).not.toContain(permission);
    // It still acts within the matrix: an ordinary command goes out under it.
    expect((await core.commands.issue(robot, 'purge-me', { name: 'turn_on' })).status).toBe('pending');
  });
});
