import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, subscribe } from '../support/mqtt.js';

type Person = { id: string; token: string };
type Notification = { id: string; type: string; category: string; critical: boolean; data: Record<string, string> };
type ErrorBody = { error: { code: string } };

const MAX_FAILURES = 3;

/**
 * The transactional outbox: a cause and its notifications commit together, to
 * the people the tenant's rules name, minus those who muted the category;
 * quiet hours hold back all but alarms and approvals.
 */
describe('notifications written with their cause', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  const open: MqttClient[] = [];
  let n = 0;

  async function person(slug: string, role: 'owner' | 'admin' | 'member' | 'viewer', withToken = true): Promise<Person> {
    const who = await gw.user(slug, `p${++n}@${slug}.test`, role);
    if (withToken) {
      const registered = await call(gw.base, 'POST', '/v1/push/tokens', { token: who.token, body: { platform: 'ios', token: `${'0'.repeat(56)}${String(n).padStart(8, '0')}`, appId: 'com.example.gatehouse', environment: 'production', timezone: 'UTC' } });
      expect(registered.status).toBe(201);
    }
    return who;
  }
  const history = async (who: Person) => (await call<{ items: Notification[] }>(gw.base, 'GET', '/v1/notifications', { token: who.token })).body.items;
  const deliveriesOf = (notificationId: string) =>
    gw.gateway.core.db.platformQuery<{ state: string; held: boolean }>(`SELECT state, next_attempt_at > now() + interval '10 minutes' AS held FROM push_deliveries WHERE notification_id = $1`, [notificationId]);
  async function onlineDevice(slug: string, capabilities: string[] = []): Promise<{ name: string; client: MqttClient }> {
    const name = `dev-${++n}`;
    const credential = await gw.device(slug, name, capabilities.map((c) => ({ name: c })));
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    open.push(client);
    return { name, client };
  }

  beforeAll(async () => {
    // No push workers: what the outbox wrote stays as written (delivery is push-delivery-queue.test.ts's and push-end-to-end.test.ts's).
    gw = await startBrokerGateway({ VOICE_PIN_MAX_FAILURES: String(MAX_FAILURES), PUSH_WORKERS: '0' });
    await gw.tenant('house');
    await gw.tenant('villa');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('an alarm a device publishes reaches every member and above once stored, but not a viewer nor someone who muted alarms', async () => {
    const [owner, member, viewer, muted] = [await person('house', 'owner'), await person('house', 'member'), await person('house', 'viewer'), await person('house', 'member')];
    expect((await call(gw.base, 'PUT', '/v1/me/notification-preferences', { token: muted.token, body: { muted: ['alarm'], quietHours: null, timezone: null } })).status).toBe(200);
    const { name, client } = await onlineDevice('house');

    // Not an alarm under the default rules: no one hears of it. The alarm after it is the marker.
    await client.publishAsync(`devices/${name}/events/battery/low`, '{"level":9}', { qos: 1 });
    await client.publishAsync(`devices/${name}/events/alarm/smoke`, '{"room":"kitchen"}', { qos: 1 });
    // The PUBACK came after the commit, and the notifications committed with the event.
    for (const who of [owner, member]) {
      const told = (await history(who)).filter((item) => item.data.device === name);
      expect(told).toEqual([expect.objectContaining({ type: 'device.alarm', category: 'alarm', critical: true, data: expect.objectContaining({ kind: 'alarm/smoke' }) })]);
      expect(await deliveriesOf(told[0]!.id)).toEqual([{ state: 'queued', held: false }]);
    }
    for (const who of [viewer, muted]) expect((await history(who)).filter((item) => item.data.device === name)).toEqual([]);
  });

  it('quiet hours hold back a failed command, never an alarm', async () => {
    const sleeper = await person('house', 'member');
    const now = new Date();
    const hhmm = (date: Date) => `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`;
    const quietHours = { start: hhmm(new Date(now.getTime() - 3_600_000)), end: hhmm(new Date(now.getTime() + 3_600_000)) };
    expect((await call(gw.base, 'PUT', '/v1/me/notification-preferences', { token: sleeper.token, body: { muted: [], quietHours, timezone: 'UTC' } })).status).toBe(200);
    const { name, client } = await onlineDevice('house', ['power']);
    await subscribe(client, `devices/${name}/commands/+`, 1);

    const answered = new Promise<void>((resolve) => client.once('message', (topic) => {
      void client.publishAsync(`${topic}/result`, '{"status":"error","message":"relay stuck"}', { qos: 1 }).then(() => resolve());
    }));
    const sent = await call<{ id: string }>(gw.base, 'POST', `/v1/devices/${name}/commands`, { token: sleeper.token, body: { name: 'turn_on' } });
    expect(sent.status).toBe(201);
    await answered;
    await client.publishAsync(`devices/${name}/events/alarm/water`, '{}', { qos: 1 });

    const told = (await history(sleeper)).filter((item) => item.data.device === name);
    expect(told.map((item) => item.type).sort()).toEqual(['command.failed', 'device.alarm']);
    const failed = told.find((item) => item.type === 'command.failed')!;
    expect(failed.data).toMatchObject({ command: 'turn_on', commandId: sent.body.id });
    expect(await deliveriesOf(failed.id)).toEqual([{ state: 'queued', held: true }]);
    expect(await deliveriesOf(told.find((item) => item.type === 'device.alarm')!.id)).toEqual([{ state: 'queued', held: false }]);
  });

  it('a command awaiting approval is announced to those who may approve, with its id; not to the requester when a second person is required', async () => {
    const [owner, admin, member] = [await person('villa', 'owner'), await person('villa', 'admin'), await person('villa', 'member')];
    const { name } = await onlineDevice('villa', ['factory_reset']);
    const ask = async (who: Person) => call<{ id: string; status: string }>(gw.base, 'POST', `/v1/devices/${name}/commands`, { token: who.token, body: { name: 'factory_reset', confirm: true } });

    const first = await ask(admin);
    expect(first.body.status).toBe('awaiting_approval');
    const approvalsFor = async (who: Person, commandId: string) => (await history(who)).filter((item) => item.type === 'approval.requested' && item.data.commandId === commandId);
    for (const who of [owner, admin]) expect(await approvalsFor(who, first.body.id)).toEqual([expect.objectContaining({ critical: true, category: 'approval', data: expect.objectContaining({ command: 'factory_reset', device: name }) })]);
    expect(await approvalsFor(member, first.body.id)).toEqual([]);

    expect((await call(gw.base, 'PUT', '/v1/approvals/policy', { token: owner.token, body: { secondPerson: true } })).status).toBe(200);
    const second = await ask(admin);
    expect(await approvalsFor(owner, second.body.id)).toHaveLength(1);
    expect(await approvalsFor(admin, second.body.id)).toEqual([]);
  });

  it('a PIN lockout is told to its user', async () => {
    const locked = await person('house', 'admin');
    expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: locked.token, body: { pin: '2468', current_password: 'correct horse battery' } })).status).toBe(204);
    const name = `door-${++n}`;
    await gw.device('house', name, [{ name: 'lock', requiresPin: true, requiresApproval: false }]);
    for (let attempt = 0; attempt < MAX_FAILURES; attempt++) {
      const answer = await call<ErrorBody>(gw.base, 'POST', `/v1/devices/${name}/commands`, { token: locked.token, body: { name: 'unlock', confirm: true, pin: '1111' } });
      expect(answer.body.error.code).toMatch(/^PIN_(INVALID|LOCKED)$/);
    }
    expect((await history(locked)).filter((item) => item.type === 'pin.locked')).toEqual([expect.objectContaining({ category: 'security', data: { until: expect.any(String) } })]);
  });

  it('the rules are the tenant admins\' to change, and change who hears what', async () => {
    const [admin, member] = [await person('villa', 'admin'), await person('villa', 'member')];
    const rules = (await call<Record<string, unknown>>(gw.base, 'GET', '/v1/push/rules', { token: admin.token })).body;
    expect(rules).toMatchObject({ approvalRequested: true, pinLocked: true, deviceEvents: [{ kind: 'alarm/#', to: { minRole: 'member' }, critical: true }] });
    const changed = { ...rules, deviceEvents: [{ kind: 'battery/#', to: { minRole: 'admin' } }] };
    expect((await call<ErrorBody>(gw.base, 'PUT', '/v1/push/rules', { token: member.token, body: changed })).body.error.code).toBe('POLICY_DENIED');
    expect((await call<ErrorBody>(gw.base, 'PUT', '/v1/push/rules', { token: admin.token, body: { ...changed, deviceEvents: [{ kind: 'a/#/b', to: { minRole: 'admin' } }] } })).body.error.code).toBe('VALIDATION_FAILED');
    // A security event type the audit log does not know is refused rather than silently never told.
    expect((await call<ErrorBody>(gw.base, 'PUT', '/v1/push/rules', { token: admin.token, body: { ...changed, securityEvents: ['NOT_AN_EVENT'] } })).status).toBe(400);
    expect((await call(gw.base, 'PUT', '/v1/push/rules', { token: admin.token, body: changed })).status).toBe(200);

    const { name, client } = await onlineDevice('villa');
    await client.publishAsync(`devices/${name}/events/battery/low`, '{}', { qos: 1 });
    expect((await history(admin)).filter((item) => item.data.device === name)).toEqual([expect.objectContaining({ type: 'device.event', critical: false })]);
    expect((await history(member)).filter((item) => item.data.device === name)).toEqual([]);
  });

  it('admins list dead letters and send them again; another tenant can do neither', async () => {
    const [owner, member, rival] = [await person('house', 'owner'), await person('house', 'member'), await person('villa', 'admin')];
    const { name, client } = await onlineDevice('house');
    await client.publishAsync(`devices/${name}/events/alarm/gas`, '{}', { qos: 1 });
    const told = (await history(owner)).find((item) => item.data.device === name)!;
    await gw.gateway.core.db.platformQuery(`UPDATE push_deliveries SET state = 'dead', attempts = 8, last_reason = 'InternalServerError' WHERE notification_id = $1`, [told.id]);

    const listed = await call<{ id: string; notificationId: string; lastReason: string }[]>(gw.base, 'GET', '/v1/push/dead-letters', { token: owner.token });
    const letter = listed.body.find((item) => item.notificationId === told.id)!;
    expect(letter).toMatchObject({ lastReason: 'InternalServerError', type: 'device.alarm', attempts: 8 });
    expect((await call<ErrorBody>(gw.base, 'GET', '/v1/push/dead-letters', { token: member.token })).body.error.code).toBe('POLICY_DENIED');
    expect((await call<{ id: string }[]>(gw.base, 'GET', '/v1/push/dead-letters', { token: rival.token })).body.map((item) => item.id)).not.toContain(letter.id);
    expect((await call(gw.base, 'POST', `/v1/push/dead-letters/${letter.id}/retry`, { token: rival.token })).status).toBe(404);

    expect((await call(gw.base, 'POST', `/v1/push/dead-letters/${letter.id}/retry`, { token: owner.token })).status).toBe(204);
    expect(await gw.gateway.core.db.platformQuery('SELECT state, attempts FROM push_deliveries WHERE id = $1', [letter.id])).toEqual([{ state: 'queued', attempts: 0 }]);
  });

  it('a reused refresh token, named in the default rules, is told to the tenant\'s admins', async () => {
    const [admin, victim] = [await person('villa', 'admin'), await person('villa', 'member')];
    const email = `victim${++n}@villa.test`;
    await gw.user('villa', email, 'member');
    const login = await call<{ refresh_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: 'correct horse battery', tenant: 'villa' } });
    expect((await call(gw.base, 'POST', '/v1/auth/refresh', { body: { refresh_token: login.body.refresh_token } })).status).toBe(200);
    expect((await call<ErrorBody>(gw.base, 'POST', '/v1/auth/refresh', { body: { refresh_token: login.body.refresh_token } })).body.error.code).toBe('TOKEN_REVOKED');
    const told = (await history(admin)).filter((item) => item.type === 'security.event' && item.data.kind === 'REFRESH_TOKEN_REUSE');
    expect(told).toEqual([expect.objectContaining({ category: 'security', data: expect.objectContaining({ channel: 'web' }) })]);
    expect((await history(victim)).filter((item) => item.type === 'security.event')).toEqual([]);
  });

  it('a security event of any type a rule names is told to the admins in its own transaction; a type no rule names is not', async () => {
    await gw.tenant('manor');
    const [owner, admin, member] = [await person('manor', 'owner'), await person('manor', 'admin'), await person('manor', 'member')];
    const rules = (await call<Record<string, unknown>>(gw.base, 'GET', '/v1/push/rules', { token: owner.token })).body;
    expect((await call(gw.base, 'PUT', '/v1/push/rules', { token: owner.token, body: { ...rules, securityEvents: ['APPROVAL_POLICY_CHANGED'] } })).status).toBe(200);
    const alerts = async (who: Person) => (await history(who)).filter((item) => item.type === 'security.event');

    // Recorded but named by no rule: a new device (DEVICE_CREATED). The named event after it is the marker.
    const device = await gw.device('manor', `gate-${++n}`);
    const [recorded] = await gw.gateway.core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM security_events WHERE event_type = 'DEVICE_CREATED' AND device_id = $1`, [device.id]);
    expect(recorded!.n).toBe(1);
    expect((await call(gw.base, 'PUT', '/v1/approvals/policy', { token: owner.token, body: { secondPerson: true } })).status).toBe(200);

    for (const who of [owner, admin]) {
      expect(await alerts(who)).toEqual([expect.objectContaining({ category: 'security', critical: false, data: expect.objectContaining({ kind: 'APPROVAL_POLICY_CHANGED', userId: owner.id }) })]);
    }
    expect(await alerts(member)).toEqual([]);
    // Written with the event, with a delivery to each admin's phone.
    const [told] = await alerts(admin);
    expect(await deliveriesOf(told!.id)).toEqual([{ state: 'queued', held: false }]);

    // A refused push credential is told whatever the rules name: the admins must fix it.
    const [{ id: manor }] = await gw.gateway.core.db.platformQuery<{ id: string }>(`SELECT id FROM tenants WHERE slug = 'manor'`, []) as [{ id: string }];
    await gw.gateway.core.pushCredentials.refused(manor, 'apns', 'InvalidProviderToken');
    expect((await alerts(admin)).map((item) => item.data)).toEqual([
      expect.objectContaining({ kind: 'PUSH_CREDENTIAL_REFUSED', provider: 'apns', reason: 'InvalidProviderToken' }), expect.objectContaining({ kind: 'APPROVAL_POLICY_CHANGED' }),
    ]);
  });

  it('a device offline for longer than the rule allows is announced once per absence', async () => {
    const admin = await person('villa', 'owner');
    const rules = (await call<Record<string, unknown>>(gw.base, 'GET', '/v1/push/rules', { token: admin.token })).body;
    expect((await call(gw.base, 'PUT', '/v1/push/rules', { token: admin.token, body: { ...rules, deviceOffline: { afterMinutes: 10, to: { minRole: 'owner' } } } })).status).toBe(200);
    const name = `pump-${++n}`;
    const device = await gw.device('villa', name);
    const seen = (minutesAgo: number) => gw.gateway.core.db.platformQuery(
      `UPDATE devices SET online = false, last_seen_at = now() - make_interval(mins => $2) WHERE id = $1`, [device.id, minutesAgo]);
    const offline = async () => (await history(admin)).filter((item) => item.type === 'device.offline' && item.data.device === name);

    await seen(5);
    await gw.gateway.core.offlineWatch.sweep();
    expect(await offline()).toEqual([]);
    await seen(11);
    await gw.gateway.core.offlineWatch.sweep();
    await gw.gateway.core.offlineWatch.sweep();
    expect(await offline()).toHaveLength(1);
    // Back, then gone again: a new absence, a new notification.
    await gw.gateway.core.db.platformQuery(`UPDATE notifications SET created_at = now() - interval '1 hour' WHERE device_id = $1`, [device.id]);
    await seen(20);
    await gw.gateway.core.offlineWatch.sweep();
    expect(await offline()).toHaveLength(2);
  });

  it('a person without a token still has the history; tenant B sees none of tenant A\'s notifications', async () => {
    const [tokenless, rival] = [await person('house', 'owner', false), await person('villa', 'owner')];
    const { name, client } = await onlineDevice('house');
    await client.publishAsync(`devices/${name}/events/alarm/door`, '{}', { qos: 1 });
    const told = (await history(tokenless)).filter((item) => item.data.device === name);
    expect(told).toHaveLength(1);
    expect(await deliveriesOf(told[0]!.id)).toEqual([]);
    expect((await history(rival)).filter((item) => item.data.device === name)).toEqual([]);
  });
});
