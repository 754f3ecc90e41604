import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, until } from '../support/mqtt.js';
import { FakeApns, type ApnsRequest } from '../support/push-fakes/fake-apns.js';
import { fakeTls } from '../support/push-fakes/push-tls.js';
import { metric } from '../support/metrics.js';
import { waitFor } from '../support/processes.js';

type Person = { id: string; token: string; device: string };
type Aps = { aps: { alert: { title: string; body: string }; category?: string; 'thread-id'?: string; 'interruption-level'?: string }; gatehouse: Record<string, string> };

const KEY_ID = 'KEY0000001';
const TEAM = 'TEAM000001';
const PASSWORD = 'correct horse battery';

/**
 * Push from cause to phone: a real gateway, a real MQTT device, the outbox, the
 * worker, the APNs sender over HTTP/2 with an ES256 provider token, and a fake
 * APNs that checks what Apple checks.
 */
describe('push, end to end', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let apns: FakeApns;
  let dir: string;
  let client: MqttClient;
  let n = 0;
  const people: Record<string, Person> = {};

  async function person(role: 'owner' | 'admin' | 'member' | 'viewer', locale: string): Promise<Person> {
    const who = await gw.user('home', `p${++n}@home.test`, role);
    const device = `${'0'.repeat(56)}${String(n).padStart(8, '0')}`;
    const registered = await call(gw.base, 'POST', '/v1/push/tokens', { token: who.token, body: { platform: 'ios', token: device, appId: 'com.acme.app', environment: 'production', locale } });
    expect(registered.status).toBe(201);
    return { ...who, device };
  }
  const to = (who: Person) => apns.requests.filter((request) => request.token === who.device);
  const body = (request: ApnsRequest) => request.body as Aps;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'push-e2e-'));
    const tls = await fakeTls();
    await writeFile(path.join(dir, 'ca.pem'), tls.ca);
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    apns = await new FakeApns({ tls, teamId: TEAM, keys: { [KEY_ID]: key.publicKey } }).start();
    gw = await startBrokerGateway({
      VOICE_PIN_MAX_FAILURES: '2',
      PUSH_APNS_ENDPOINT: `127.0.0.1:${apns.port}`, PUSH_PROVIDER_CA: path.join(dir, 'ca.pem'), PUSH_CREDENTIAL_KEYRING: path.join(dir, 'push.key'),
    });
    const tenant = await gw.tenant('home');
    await gw.gateway.core.pushCredentials.set(tenant.id, {
      provider: 'apns', signingKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: KEY_ID, teamId: TEAM, topic: 'com.acme.app',
    });
    people.owner = await person('owner', 'de-AT');
    people.member = await person('member', 'en');
    people.viewer = await person('viewer', 'en');
    people.mutedAdmin = await person('admin', 'en');
    expect((await call(gw.base, 'PUT', '/v1/me/notification-preferences', { token: people.mutedAdmin.token, body: { muted: ['alarm'], quietHours: null, timezone: null } })).status).toBe(200);
    const sensor = await gw.device('home', 'smoke-1', [{ name: 'factory_reset' }]);
    client = await connect(gw.endpoints.tcp, { username: sensor.username, password: sensor.password });
  });
  afterAll(async () => {
    await client?.endAsync(true);
    await gw?.close();
    await apns?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an alarm reaches each member in their language, as a time-critical alert threaded by device; not a viewer, not who muted alarms', async () => {
    await client.publishAsync('devices/smoke-1/events/alarm/smoke', '{"room":"kitchen"}', { qos: 1 });
    await until(() => to(people.owner!).length === 1 && to(people.member!).length === 1, 10_000, 'the alarm at the owner\'s and the member\'s phones');
    const [owner, member] = [body(to(people.owner!)[0]!), body(to(people.member!)[0]!)];
    expect(owner.aps.alert.body).toBe('smoke-1 hat Alarm ausgelöst (alarm/smoke).');
    expect(member.aps.alert.body).toBe('smoke-1 raised an alarm (alarm/smoke).');
    expect(member.aps['thread-id']).toBe(owner.aps['thread-id']);
    // The fake checked the provider token; the collapse id is the notification, the apns-id the delivery.
    const request = to(people.member!)[0]!;
    expect(request.headers['apns-topic']).toBe('com.acme.app');
    expect(request.headers['apns-collapse-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(request.headers['apns-id']).not.toBe(request.headers['apns-collapse-id']);

    // The marker: an approval request, which the muted admin does hear (only alarms are muted). Then the alarm never came.
    const asked = await call<{ id: string; status: string }>(gw.base, 'POST', '/v1/devices/smoke-1/commands', { token: people.owner!.token, body: { name: 'factory_reset', confirm: true } });
    expect(asked.body.status).toBe('awaiting_approval');
    await until(() => to(people.mutedAdmin!).length === 1, 10_000, 'the approval request at the muted admin\'s phone');
    const approval = body(to(people.mutedAdmin!)[0]!);
    expect(approval.aps.category).toBe('GATEHOUSE_APPROVAL');
    expect(approval.gatehouse).toMatchObject({ deepLink: `gatehouse://commands/${asked.body.id}`, commandId: asked.body.id, type: 'approval.requested' });
    expect(to(people.viewer!)).toEqual([]);
  });

  it('a PIN lockout is sent to its user', async () => {
    // An admin: members may not send sensitive commands from the web at all.
    const admin = people.mutedAdmin!;
    expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: admin.token, body: { pin: '2468', current_password: PASSWORD } })).status).toBe(204);
    await gw.device('home', 'door-1', [{ name: 'lock', requiresPin: true, requiresApproval: false }]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await call<{ error: { code: string } }>(gw.base, 'POST', '/v1/devices/door-1/commands', { token: admin.token, body: { name: 'unlock', confirm: true, pin: '0000' } });
      expect(answer.body.error.code).toMatch(/^PIN_(INVALID|LOCKED)$/);
    }
    await until(() => to(admin).some((request) => body(request).aps.alert.title === 'Voice PIN locked'), 10_000, 'the lockout at the admin\'s phone');
  });

  it('a token APNs calls Unregistered is disabled, and its deliveries stop', async () => {
    const unregistered = { provider: 'apns', result: 'invalid-token', reason: 'Unregistered' };
    const [answeredBefore, invalidatedBefore] = [await metric(gw.base, 'gatehouse_push_sent_total', unregistered), await metric(gw.base, 'gatehouse_push_tokens_invalidated_total', { provider: 'apns' })];
    apns.answerFor(people.viewer!.device, { status: 410, reason: 'Unregistered', timestamp: Date.now() + 60_000 });
    // Viewers hear of nothing by default: make this one hear of battery events.
    const admin = await gw.user('home', `admin${++n}@home.test`, 'admin');
    const rules = (await call<Record<string, unknown>>(gw.base, 'GET', '/v1/push/rules', { token: admin.token })).body;
    expect((await call(gw.base, 'PUT', '/v1/push/rules', { token: admin.token, body: { ...rules, deviceEvents: [{ kind: 'battery/#', to: { minRole: 'viewer' } }] } })).status).toBe(200);
    await client.publishAsync('devices/smoke-1/events/battery/low', '{}', { qos: 1 });
    await waitFor(async () => ((await call<{ active: boolean }[]>(gw.base, 'GET', '/v1/push/tokens', { token: people.viewer!.token })).body[0]?.active === false ? true : undefined), 10_000, 'the viewer\'s token disabled');
    expect(to(people.viewer!)).toHaveLength(1);
    expect(await metric(gw.base, 'gatehouse_push_sent_total', unregistered)).toBe(answeredBefore + 1);
    expect(await metric(gw.base, 'gatehouse_push_tokens_invalidated_total', { provider: 'apns' })).toBe(invalidatedBefore + 1);
  });

  it('/metrics counts each delivery by provider and result, times the sender, and shows the queue drained', async () => {
    // Door events to members and up: the owner, the member and the admin who muted only alarms.
    const admin = await gw.user('home', `admin${++n}@home.test`, 'admin');
    const rules = (await call<Record<string, unknown>>(gw.base, 'GET', '/v1/push/rules', { token: admin.token })).body;
    expect((await call(gw.base, 'PUT', '/v1/push/rules', { token: admin.token, body: { ...rules, deviceEvents: [{ kind: 'door/#', to: { minRole: 'member' } }] } })).status).toBe(200);
    const sent = { provider: 'apns', result: 'sent', reason: '' };
    const [sentBefore, callsBefore] = [await metric(gw.base, 'gatehouse_push_sent_total', sent), await metric(gw.base, 'gatehouse_push_send_seconds_count', { provider: 'apns' })];
    const received = apns.requests.length;
    await client.publishAsync('devices/smoke-1/events/door/open', '{}', { qos: 1 });
    await until(() => apns.requests.length >= received + 3, 10_000, 'the door event at three phones');
    // The counter is bumped before the settle commits; the queue is empty after it.
    await waitFor(async () => ((await metric(gw.base, 'gatehouse_push_deliveries', { state: 'leased' })) === 0 ? true : undefined), 10_000, 'no delivery leased');
    expect(apns.requests.length).toBe(received + 3);
    expect(await metric(gw.base, 'gatehouse_push_sent_total', sent)).toBe(sentBefore + 3);
    expect(await metric(gw.base, 'gatehouse_push_send_seconds_count', { provider: 'apns' })).toBeGreaterThan(callsBefore);
    expect(await metric(gw.base, 'gatehouse_push_deliveries', { state: 'queued' })).toBe(0);
    expect(await metric(gw.base, 'gatehouse_push_deliveries', { state: 'dead' })).toBe(0);
    expect(await metric(gw.base, 'gatehouse_push_dead_letters_total', { provider: 'apns' })).toBe(0);
    expect(await metric(gw.base, 'gatehouse_push_retries_total', { provider: 'apns' })).toBe(0);
  });
});
