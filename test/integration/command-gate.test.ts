import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import type { GatewayEvents } from '../../src/core/event-bus.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, record, subscribe, until, type Received } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

type Command = { id: string; device: string; name: string; status: string; result: unknown };
type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };
type User = { id: string; token: string; mobile: string; email: string };

const PASSWORD = 'correct horse battery';
// Not the default (5): shows VOICE_PIN_MAX_FAILURES reaches the gate.
const MAX_FAILURES = 4;

describe('one gate for dangerous actions', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  const open: MqttClient[] = [];
  let devices = 0;

  async function user(slug: string, email: string, role: 'owner' | 'admin' | 'member' | 'viewer'): Promise<User> {
    const { id, token } = await gw.user(slug, email, role);
    const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, tenant: slug, channel: 'mobile' } });
    expect(login.status).toBe(200);
    return { id, token, mobile: login.body.access_token, email };
  }

  /** A device of the test's own, connected with a real MQTT client that records its commands. */
  async function onlineDevice(slug: string, capabilities: { name: string; requiresPin?: boolean }[], owner: User): Promise<{ name: string; client: MqttClient; commands: Received[] } & Credential> {
    const name = `dev-${++devices}`;
    const device = await gw.device(slug, name, capabilities.map((c) => ({ name: c.name, requiresPin: c.requiresPin ?? false, requiresApproval: false })));
    const client = await connect(gw.endpoints.tcp, { username: device.username, password: device.password });
    open.push(client);
    const commands = record(client);
    expect(await subscribe(client, `devices/${name}/commands/+`, 1)).toEqual([1]);
    // Presence is written within a second of the CONNECT.
    await waitFor(async () => ((await call<{ online: boolean }>(gw.base, 'GET', `/v1/devices/${name}`, { token: owner.token })).body.online ? true : undefined), 5_000, `${name} online`);
    return { ...device, name, client, commands };
  }

  const send = (who: string, device: string, body: Record<string, unknown>, options: { wait?: string; key?: string } = {}) =>
    call<Command & ErrorBody>(gw.base, 'POST', `/v1/devices/${device}/commands${options.wait ? `?wait=${options.wait}` : ''}`, {
      token: who, body, headers: options.key ? { 'idempotency-key': options.key } : {},
    });
  const decide = (who: string, id: string, decision: 'approve' | 'deny') => call<Command & ErrorBody>(gw.base, 'POST', `/v1/commands/${id}/${decision}`, { token: who });
  const securityEvents = async (type: string, userId?: string) =>
    (await gw.gateway.core.db.withPlatform((tx) => tx.query<{ details: Record<string, unknown> }>(
      'SELECT details FROM security_events WHERE event_type = $1 AND ($2::uuid IS NULL OR user_id = $2::uuid)', [type, userId ?? null],
    ))).rows;

  beforeAll(async () => {
    gw = await startBrokerGateway({ VOICE_PIN_MAX_FAILURES: String(MAX_FAILURES) });
    await gw.tenant('home');
    await gw.tenant('rival');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  describe('voice PINs', () => {
    it(`20 wrong PINs in parallel: at most ${MAX_FAILURES} are verified before the lock, and the right PIN is refused while locked`, async () => {
      const owner = await user('home', 'pin-racer@home.test', 'owner');
      const name = `door-${++devices}`;
      await gw.device('home', name, [{ name: 'lock', requiresPin: true, requiresApproval: false }]);
      expect((await call(gw.base, 'PUT', '/v1/me/voice-pin', { token: owner.token, body: { pin: '2468', current_password: PASSWORD } })).status).toBe(204);
      const locked: GatewayEvents['pin.locked'][] = [];
      const off = gw.gateway.core.events.on('pin.locked', (event) => locked.push(event));
      try {
        const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => send(owner.token, name, { name: 'unlock', confirm: true, pin: String(1000 + i) })));
        const codes = answers.map((answer) => answer.body.error?.code);
        expect(codes.every((code) => code === 'PIN_INVALID' || code === 'PIN_LOCKED'), codes.join()).toBe(true);
        // Each verified wrong PIN is one audited failure; the one that locks is PIN_LOCKOUT.
        const failed = await securityEvents('PIN_FAILED', owner.id);
        const lockouts = await securityEvents('PIN_LOCKOUT', owner.id);
        expect(failed.length + lockouts.length).toBe(MAX_FAILURES);
        expect(lockouts).toHaveLength(1);
        expect(codes.filter((code) => code === 'PIN_INVALID')).toHaveLength(MAX_FAILURES - 1);
        const right = await send(owner.token, name, { name: 'unlock', confirm: true, pin: '2468' });
        expect(right.status).toBe(423);
        expect(right.body.error.code).toBe('PIN_LOCKED');
        await until(() => locked.length === 1, 5_000, 'pin.locked');
        expect(locked[0]).toMatchObject({ tenantId: expect.any(String), userId: owner.id, until: expect.any(String) });
      } finally {
        off();
      }
    });

    it('PUT /v1/me/voice-pin needs the current password or PIN; an admin resets a member\'s, a member cannot', async () => {
      const admin = await user('home', 'pin-admin@home.test', 'admin');
      const member = await user('home', 'pin-member@home.test', 'member');
      const put = (token: string, body: Record<string, unknown>) => call<ErrorBody>(gw.base, 'PUT', '/v1/me/voice-pin', { token, body });
      expect((await put(member.token, { pin: '1357' })).body.error.code).toBe('VALIDATION_FAILED');
      expect((await put(member.token, { pin: '12', current_password: PASSWORD })).status).toBe(400);
      expect((await put(member.token, { pin: '1357', current_password: 'wrong password!' })).body.error.code).toBe('INVALID_CREDENTIALS');
      expect((await put(member.token, { pin: '1357', current_password: PASSWORD })).status).toBe(204);
      expect((await put(member.token, { pin: '97531', current_pin: '0000' })).body.error.code).toBe('INVALID_CREDENTIALS');
      expect((await put(member.token, { pin: '97531', current_pin: '1357' })).status).toBe(204);
      const hash = (await gw.gateway.core.db.withPlatform((tx) => tx.query<{ pin_hash: string }>('SELECT pin_hash FROM voice_pins WHERE user_id = $1', [member.id]))).rows[0]!.pin_hash;
      expect(hash).toMatch(/^\$argon2id\$/);

      expect((await call<ErrorBody>(gw.base, 'DELETE', `/v1/members/${admin.id}/voice-pin`, { token: member.token })).body.error.code).toBe('POLICY_DENIED');
      expect((await call(gw.base, 'DELETE', `/v1/members/${member.id}/voice-pin`, { token: admin.token })).status).toBe(204);
      expect((await gw.gateway.core.db.withPlatform((tx) => tx.query('SELECT 1 FROM voice_pins WHERE user_id = $1', [member.id]))).rowCount).toBe(0);
      expect(await securityEvents('VOICE_PIN_RESET', member.id)).toHaveLength(1);
    });
  });

  describe('approvals', () => {
    let requester: User;
    let approver: User;

    beforeAll(async () => {
      requester = await user('home', 'asker@home.test', 'admin');
      approver = await user('home', 'approver@home.test', 'admin');
    });

    it('round trip: factory_reset waits, the device receives nothing until an admin approves, then it runs and succeeds', async () => {
      const device = await onlineDevice('home', [{ name: 'factory_reset' }, { name: 'restart' }], requester);
      const requested: GatewayEvents['approval.requested'][] = [];
      const off = gw.gateway.core.events.on('approval.requested', (event) => requested.push(event));
      let reset: string;
      try {
        const asked = await send(requester.token, device.name, { name: 'factory_reset', confirm: true, ttlSeconds: 300 });
        expect(asked.status, JSON.stringify(asked.body)).toBe(201);
        expect(asked.body.status).toBe('awaiting_approval');
        reset = asked.body.id;
        await until(() => requested.length === 1, 5_000, 'approval.requested');
        expect(requested[0]).toMatchObject({ commandId: reset, deviceId: device.id, requestedBy: { kind: 'user', id: requester.id } });
      } finally {
        off();
      }

      // The marker: a normal command sent after it arrives, and arrives alone.
      const marker = await send(requester.token, device.name, { name: 'restart', params: { delay_seconds: 1 } });
      expect(marker.status).toBe(201);
      await until(() => device.commands.length >= 1, 5_000, 'the marker on the device');
      expect(device.commands.map((m) => m.topic)).toEqual([`devices/${device.name}/commands/${marker.body.id}`]);

      const approved = await decide(approver.mobile, reset, 'approve');
      expect(approved.status, JSON.stringify(approved.body)).toBe(200);
      expect(approved.body.status).toBe('pending');
      await until(() => device.commands.length === 2, 5_000, 'the approved command on the device');
      expect(device.commands[1]!.topic).toBe(`devices/${device.name}/commands/${reset}`);
      expect(JSON.parse(device.commands[1]!.payload)).toMatchObject({ id: reset, name: 'factory_reset' });
      await device.client.publishAsync(`devices/${device.name}/commands/${reset}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 });
      const done = await call<Command>(gw.base, 'GET', `/v1/commands/${reset}?wait=10s`, { token: requester.token });
      expect(done.body).toMatchObject({ id: reset, status: 'succeeded', result: { status: 'ok' } });
      expect((await securityEvents('COMMAND_APPROVED', approver.id)).map((e) => e.details.commandId)).toContain(reset);
    });

    it('a denied command never reaches the device, and cannot be approved afterwards', async () => {
      const device = await onlineDevice('home', [{ name: 'factory_reset' }, { name: 'restart' }], requester);
      const reset = await send(requester.token, device.name, { name: 'factory_reset', confirm: true });
      expect(reset.body.status).toBe('awaiting_approval');
      const denied = await decide(approver.mobile, reset.body.id, 'deny');
      expect(denied.status).toBe(200);
      expect(denied.body.status).toBe('denied');
      expect((await decide(approver.mobile, reset.body.id, 'approve')).body.error.code).toBe('CONFLICT');
      const marker = await send(requester.token, device.name, { name: 'restart', params: { delay_seconds: 1 } });
      await until(() => device.commands.length >= 1, 5_000, 'the marker on the device');
      expect(device.commands.map((m) => m.topic)).toEqual([`devices/${device.name}/commands/${marker.body.id}`]);
      expect((await call<Command>(gw.base, 'GET', `/v1/commands/${reset.body.id}`, { token: requester.token })).body.status).toBe('denied');
      expect((await securityEvents('COMMAND_DENIED', approver.id)).map((e) => e.details.commandId)).toContain(reset.body.id);
    });

    it('the requester cannot approve their own when the tenant requires a second person; nor anyone from the channel that asked', async () => {
      await gw.tenant('four-eyes');
      const asker = await user('four-eyes', 'asker@four-eyes.test', 'owner');
      const second = await user('four-eyes', 'second@four-eyes.test', 'admin');
      await gw.gateway.core.approvals.requireSecondPerson(await operatorContext(gw.gateway.core.db, 'four-eyes'), true);
      const name = `vault-${++devices}`;
      await gw.device('four-eyes', name, [{ name: 'factory_reset', requiresPin: false, requiresApproval: false }]);
      const reset = await send(asker.token, name, { name: 'factory_reset', confirm: true });
      expect(reset.body.status).toBe('awaiting_approval');
      for (const token of [asker.mobile, asker.token]) {
        const own = await decide(token, reset.body.id, 'approve');
        expect(own.status).toBe(403);
        expect(own.body.error.code).toBe('POLICY_DENIED');
      }
      // Same channel as the request (web), even for a second person.
      expect((await decide(second.token, reset.body.id, 'approve')).body.error.code).toBe('POLICY_DENIED');
      expect((await call<Command>(gw.base, 'GET', `/v1/commands/${reset.body.id}`, { token: asker.token })).body.status).toBe('awaiting_approval');
      const approved = await decide(second.mobile, reset.body.id, 'approve');
      expect(approved.body.status).toBe('pending');
    });

    it('a member can neither approve nor run a critical command without confirmation', async () => {
      const member = await user('home', 'member-approver@home.test', 'member');
      const name = `box-${++devices}`;
      await gw.device('home', name, [{ name: 'factory_reset', requiresPin: false, requiresApproval: false }]);
      expect((await send(requester.token, name, { name: 'factory_reset' })).body.error.code).toBe('CONFIRMATION_REQUIRED');
      const reset = await send(requester.token, name, { name: 'factory_reset', confirm: true });
      expect((await decide(member.mobile, reset.body.id, 'approve')).body.error.code).toBe('POLICY_DENIED');
    });

    it('a device that connects while a command awaits approval is not sent it (only pending ones are outstanding)', async () => {
      const name = `late-${++devices}`;
      const device = await gw.device('home', name, [{ name: 'factory_reset', requiresPin: false, requiresApproval: false }, { name: 'restart', requiresPin: false, requiresApproval: false }]);
      const reset = await send(requester.token, name, { name: 'factory_reset', confirm: true, ttlSeconds: 300 });
      expect(reset.body.status).toBe('awaiting_approval');
      const queued = await send(requester.token, name, { name: 'restart', params: { delay_seconds: 1 }, ttlSeconds: 300 });
      const client = await connect(gw.endpoints.tcp, { username: device.username, password: device.password, clean: false, clientId: `late-${devices}` });
      open.push(client);
      const received = record(client);
      await subscribe(client, `devices/${name}/commands/+`, 1);
      // The pending one is sent on connect; the one awaiting approval is not.
      await until(() => received.length >= 1, 5_000, 'the pending command on connect');
      expect(received.map((m) => m.topic)).toEqual([`devices/${name}/commands/${queued.body.id}`]);
    });

    it('a command nobody decides expires with its TTL and can no longer be approved', async () => {
      const name = `timer-${++devices}`;
      await gw.device('home', name, [{ name: 'factory_reset', requiresPin: false, requiresApproval: false }]);
      const changes: GatewayEvents['command.status.changed'][] = [];
      const off = gw.gateway.core.events.on('command.status.changed', (event) => changes.push(event));
      try {
        const reset = await send(requester.token, name, { name: 'factory_reset', confirm: true, ttlSeconds: 1 });
        expect(reset.body.status).toBe('awaiting_approval');
        await waitFor(async () => ((await call<Command>(gw.base, 'GET', `/v1/commands/${reset.body.id}`, { token: requester.token })).body.status === 'expired' ? true : undefined), 10_000, 'expired');
        expect((await decide(approver.mobile, reset.body.id, 'approve')).body.error.code).toBe('CONFLICT');
        expect(changes.filter((c) => c.commandId === reset.body.id).map((c) => c.status)).toEqual(['awaiting_approval', 'expired']);
      } finally {
        off();
      }
    });

    it('tenant B can neither approve nor deny tenant A\'s commands', async () => {
      const rival = await user('rival', 'owner@rival.test', 'owner');
      const name = `safe-${++devices}`;
      await gw.device('home', name, [{ name: 'factory_reset', requiresPin: false, requiresApproval: false }]);
      const reset = await send(requester.token, name, { name: 'factory_reset', confirm: true });
      for (const decision of ['approve', 'deny'] as const) {
        const answer = await decide(rival.mobile, reset.body.id, decision);
        expect(answer.status).toBe(404);
        expect(answer.body.error.code).toBe('NOT_FOUND');
      }
      expect((await call<Command>(gw.base, 'GET', `/v1/commands/${reset.body.id}`, { token: requester.token })).body.status).toBe('awaiting_approval');
    });
  });

  describe('voice policy', () => {
    type Entry = { platform: string; capability: string; risk: string; enabled: boolean; requiresPin: boolean; requiresAck: boolean; platformVoiceCode: boolean; source: string };
    const policy = (token: string, query = '') => call<{ entries: Entry[] } & ErrorBody>(gw.base, 'GET', `/v1/voice/policy${query}`, { token });
    const find = (entries: Entry[], platform: string, capability: string) => entries.find((e) => e.platform === platform && e.capability === capability);

    it('defaults from the catalogue; admins change it; critical cannot be enabled; tenant B sees only its own', async () => {
      const admin = await user('home', 'voice-admin@home.test', 'admin');
      const member = await user('home', 'voice-member@home.test', 'member');
      const rival = await user('rival', 'voice-admin@rival.test', 'admin');
      const defaults = (await policy(admin.token)).body.entries;
      expect(find(defaults, 'alexa', 'power')).toMatchObject({ enabled: true, requiresPin: false, source: 'default' });
      expect(find(defaults, 'google', 'lock')).toMatchObject({ risk: 'sensitive', enabled: true, requiresPin: true });
      expect(find(defaults, 'alexa', 'factory_reset')).toMatchObject({ risk: 'critical', enabled: false });
      expect((await policy(member.token)).body.error.code).toBe('POLICY_DENIED');

      const put = (token: string, body: unknown) => call<{ entries: Entry[] } & ErrorBody>(gw.base, 'PUT', '/v1/voice/policy', { token, body });
      expect((await put(admin.token, { platform: 'alexa', capabilities: [{ capability: 'factory_reset', enabled: true, requiresPin: true }] })).body.error.code).toBe('VALIDATION_FAILED');
      expect((await put(admin.token, { platform: 'alexa', capabilities: [{ capability: 'lock', enabled: true, requiresPin: false }] })).body.error.code).toBe('VALIDATION_FAILED');
      const changed = await put(admin.token, { platform: 'alexa', capabilities: [{ capability: 'power', enabled: false, requiresPin: false }, { capability: 'brightness', enabled: true, requiresPin: true }] });
      expect(changed.status).toBe(200);
      expect(find(changed.body.entries, 'alexa', 'power')).toMatchObject({ enabled: false, source: 'tenant' });
      expect(find((await policy(admin.token, '?platform=alexa')).body.entries, 'alexa', 'brightness')).toMatchObject({ enabled: true, requiresPin: true, source: 'tenant' });
      expect(find((await policy(admin.token)).body.entries, 'google', 'power')).toMatchObject({ enabled: true, source: 'default' });

      // Tenant B: its own defaults, never A's choices.
      const theirs = (await policy(rival.token)).body.entries;
      expect(theirs.every((e) => e.source === 'default')).toBe(true);
      expect(find(theirs, 'alexa', 'power')).toMatchObject({ enabled: true });
    });
    it('Google\'s acknowledgement and Alexa\'s voice code are each their own platform\'s choice, and the voice code only for a sensitive capability', async () => {
      const admin = await user('home', 'voice-flags@home.test', 'admin');
      const put = (platform: string, capabilities: unknown[]) => call<{ entries: Entry[] } & ErrorBody>(gw.base, 'PUT', '/v1/voice/policy', { token: admin.token, body: { platform, capabilities } });
      const refusedAck = await put('alexa', [{ capability: 'power', enabled: true, requiresPin: false, requiresAck: true }]);
      expect(refusedAck.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('Alexa has none') });
      expect((await put('google', [{ capability: 'lock', enabled: true, requiresPin: true, platformVoiceCode: true }])).body.error.code).toBe('VALIDATION_FAILED');
      expect((await put('alexa', [{ capability: 'power', enabled: true, requiresPin: false, platformVoiceCode: true }])).body.error.code).toBe('VALIDATION_FAILED');
      const google = await put('google', [{ capability: 'power', enabled: true, requiresPin: false, requiresAck: true }]);
      expect(find(google.body.entries, 'google', 'power')).toMatchObject({ requiresAck: true, platformVoiceCode: false, source: 'tenant' });
      const alexa = await put('alexa', [{ capability: 'lock', enabled: true, requiresPin: true, platformVoiceCode: true }]);
      expect(find(alexa.body.entries, 'alexa', 'lock')).toMatchObject({ requiresPin: true, platformVoiceCode: true, requiresAck: false });
    });
  });

  describe('commands for voice', () => {
    it('Idempotency-Key: the same key from the same caller returns the same command; another caller\'s same key does not', async () => {
      const owner = await user('home', 'retry@home.test', 'owner');
      const other = await user('home', 'retry-other@home.test', 'owner');
      const name = `plug-${++devices}`;
      await gw.device('home', name, [{ name: 'restart', requiresPin: false, requiresApproval: false }]);
      const body = { name: 'restart', params: { delay_seconds: 1 } };
      const [first, again] = await Promise.all([send(owner.token, name, body, { key: 'voice-req-1' }), send(owner.token, name, body, { key: 'voice-req-1' })]);
      expect(first.status).toBe(201);
      expect(again.body.id).toBe(first.body.id);
      expect((await send(owner.token, name, body, { key: 'voice-req-1' })).body.id).toBe(first.body.id);
      expect((await send(owner.token, name, body, { key: 'voice-req-2' })).body.id).not.toBe(first.body.id);
      expect((await send(other.token, name, body, { key: 'voice-req-1' })).body.id).not.toBe(first.body.id);
      const count = (await gw.gateway.core.db.withPlatform((tx) => tx.query('SELECT 1 FROM commands c JOIN devices d ON d.id = c.device_id WHERE d.name = $1', [name]))).rowCount;
      expect(count).toBe(3);
    });

    it('?wait= answers with the device\'s result; DEVICE_OFFLINE sends nothing to an offline device; COMMAND_TIMEOUT leaves it pending', async () => {
      const owner = await user('home', 'waiter@home.test', 'owner');
      const offline = `plug-${++devices}`;
      await gw.device('home', offline, [{ name: 'restart', requiresPin: false, requiresApproval: false }]);
      const refused = await send(owner.token, offline, { name: 'restart', params: { delay_seconds: 1 } }, { wait: '5s' });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('DEVICE_OFFLINE');
      const none = (await gw.gateway.core.db.withPlatform((tx) => tx.query('SELECT 1 FROM commands c JOIN devices d ON d.id = c.device_id WHERE d.name = $1', [offline]))).rowCount;
      expect(none).toBe(0);

      const device = await onlineDevice('home', [{ name: 'restart' }], owner);
      const slow = await send(owner.token, device.name, { name: 'restart', params: { delay_seconds: 1 } }, { wait: '200ms' });
      expect(slow.status).toBe(504);
      expect(slow.body.error.code).toBe('COMMAND_TIMEOUT');
      const pendingId = slow.body.error.details?.commandId as string;
      expect(['pending', 'delivered']).toContain((await call<Command>(gw.base, 'GET', `/v1/commands/${pendingId}`, { token: owner.token })).body.status);

      // The device answers whatever it receives from now on.
      device.client.on('message', (topic) => {
        if (topic.endsWith(pendingId)) return;
        void device.client.publishAsync(`${topic}/result`, JSON.stringify({ status: 'ok', done: true }), { qos: 1 });
      });
      const quick = await send(owner.token, device.name, { name: 'restart', params: { delay_seconds: 1 } }, { wait: '10s' });
      expect(quick.status, JSON.stringify(quick.body)).toBe(201);
      expect(quick.body).toMatchObject({ status: 'succeeded', result: { status: 'ok', done: true } });
    });
  });
});
