import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, markerAfter, record, refusedWith, stillConnected, subscribe, withoutMarkers } from '../support/mqtt.js';

type ErrorBody = { error: { code: string; message: string } };
type IssuedApp = { id: string; name: string; username: string; password: string; publish: string[]; subscribe: string[]; denyPublish: string[]; denySubscribe: string[] };
type AppEntry = Omit<IssuedApp, 'password'> & { status: string; createdAt: string };

const PASSWORD = 'correct horse battery';

describe('app credentials over the API: create, connect, rotate, delete, and the tenant wall', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  const open: MqttClient[] = [];
  const tokens: Record<string, string> = {};
  let adminId: string;

  async function login(email: string, tenant: string, channel = 'web'): Promise<string> {
    const response = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, tenant, channel } });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.access_token;
  }

  async function mqttAs(credential: { username: string; password: string }): Promise<MqttClient> {
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    open.push(client);
    return client;
  }

  const closed = (client: MqttClient) => new Promise<void>((resolve) => (client.stream.destroyed ? resolve() : client.once('close', () => resolve())));

  const createApp = (token: string, body: Record<string, unknown>) => call<IssuedApp & ErrorBody>(gw.base, 'POST', '/v1/apps', { token, body });

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('acme');
    await gw.tenant('globex');
    adminId = (await gw.user('acme', 'admin@acme.test', 'admin')).id;
    await gw.user('acme', 'member@acme.test', 'member');
    await gw.user('globex', 'owner@globex.test', 'owner');
    tokens.admin = await login('admin@acme.test', 'acme');
    tokens.adminMobile = await login('admin@acme.test', 'acme', 'mobile');
    tokens.member = await login('member@acme.test', 'acme');
    tokens.globex = await login('owner@globex.test', 'globex');
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.endAsync(true).catch(() => undefined)));
    await gw?.close();
  });

  it('creates an app over HTTP with the CLI\'s filters, shows the secret once, and lists it without', async () => {
    const created = await createApp(tokens.admin!, { name: 'dashboard', subscribe: ['devices/+/telemetry/#'], denyPublish: ['#'] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String), name: 'dashboard', username: 'app:dashboard@acme', password: expect.stringMatching(/^ga_/),
      publish: ['#'], subscribe: ['devices/+/telemetry/#'], denyPublish: ['#'], denySubscribe: [],
    });
    const listed = await call<{ apps: AppEntry[] }>(gw.base, 'GET', '/v1/apps', { token: tokens.admin });
    expect(listed.status).toBe(200);
    expect(listed.body.apps).toEqual([{
      id: created.body.id, name: 'dashboard', username: 'app:dashboard@acme', status: 'active', createdAt: expect.any(String),
      publish: ['#'], subscribe: ['devices/+/telemetry/#'], denyPublish: ['#'], denySubscribe: [],
    }]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.password);

    const again = await createApp(tokens.admin!, { name: 'dashboard' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
    const badFilter = await createApp(tokens.admin!, { name: 'broken', subscribe: ['a/#/b'] });
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('the created credential connects with mqtt.js and its filters hold', async () => {
    const sensor = await gw.device('acme', 'sensor-1');
    const app = await createApp(tokens.admin!, { name: 'watcher', subscribe: ['devices/+/telemetry/#'], denyPublish: ['#'] });
    const watcher = await mqttAs(app.body);
    expect(await subscribe(watcher, ['devices/+/telemetry/#', 'devices/+/state'], 1)).toEqual([1, 128]);
    const seen = record(watcher);
    const device = await mqttAs(sensor);
    await device.publishAsync('devices/sensor-1/telemetry', '{"t":21}', { qos: 1 });
    // The app may publish nothing (deny-publish #): its own publish is dropped, the device's marker proves it routed nothing.
    await watcher.publishAsync('devices/sensor-1/telemetry', '{"t":-1}', { qos: 1 });
    await markerAfter(device, 'devices/sensor-1/telemetry', [seen]);
    expect(withoutMarkers(seen).map((m) => m.payload)).toEqual(['{"t":21}']);
  });

  it('rotation drops the live connection at once, refuses the old secret and accepts the new one', async () => {
    const app = (await createApp(tokens.admin!, { name: 'rotating' })).body;
    const live = await mqttAs(app);
    await stillConnected(live);
    const dropped = closed(live);
    const rotated = await call<IssuedApp>(gw.base, 'POST', `/v1/apps/${app.id}/secret`, { token: tokens.admin });
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body).toMatchObject({ id: app.id, username: app.username, password: expect.stringMatching(/^ga_/) });
    expect(rotated.body.password).not.toBe(app.password);
    await dropped;
    expect(await refusedWith(gw.endpoints.tcp, { username: app.username, password: app.password })).toBe(4);
    const fresh = await mqttAs({ username: app.username, password: rotated.body.password });
    await stillConnected(fresh);
  });

  it('deletion drops the live connection, refuses the credential and forgets the app', async () => {
    const app = (await createApp(tokens.admin!, { name: 'doomed' })).body;
    const live = await mqttAs(app);
    await stillConnected(live);
    const dropped = closed(live);
    const deleted = await call(gw.base, 'DELETE', `/v1/apps/${app.id}`, { token: tokens.admin });
    expect(deleted.status).toBe(204);
    await dropped;
    expect(await refusedWith(gw.endpoints.tcp, { username: app.username, password: app.password })).toBe(4);
    const listed = await call<{ apps: AppEntry[] }>(gw.base, 'GET', '/v1/apps', { token: tokens.admin });
    expect(listed.body.apps.map((a) => a.id)).not.toContain(app.id);
    const twice = await call<ErrorBody>(gw.base, 'DELETE', `/v1/apps/${app.id}`, { token: tokens.admin });
    expect(twice.status).toBe(404);
    expect(twice.body.error.code).toBe('APP_NOT_FOUND');
  });

  it('audits each change with who, what and the channel', async () => {
    const app = (await createApp(tokens.admin!, { name: 'audited' })).body;
    await call(gw.base, 'POST', `/v1/apps/${app.id}/secret`, { token: tokens.admin });
    await call(gw.base, 'DELETE', `/v1/apps/${app.id}`, { token: tokens.admin });
    const events = await gw.gateway.core.db.withPlatform(async (tx) => (await tx.query(
      `SELECT event_type AS type, channel, principal, details->>'name' AS name, t.slug FROM security_events e JOIN tenants t ON t.id = e.tenant_id
        WHERE event_type LIKE 'APP_%' AND (details->>'name' = 'audited') ORDER BY e.created_at, e.id`)).rows);
    const who = { kind: 'user', id: adminId };
    expect(events).toEqual([
      { type: 'APP_CREATED', channel: 'web', principal: who, name: 'audited', slug: 'acme' },
      { type: 'APP_SECRET_ROTATED', channel: 'web', principal: who, name: 'audited', slug: 'acme' },
      { type: 'APP_DELETED', channel: 'web', principal: who, name: 'audited', slug: 'acme' },
    ]);
  });

  it('needs tenant.apps.manage: a member is refused', async () => {
    for (const [method, path] of [['GET', '/v1/apps'], ['POST', '/v1/apps']] as const) {
      const refused = await call<ErrorBody>(gw.base, method, path, { token: tokens.member, ...(method === 'POST' ? { body: { name: 'sneaky' } } : {}) });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('POLICY_DENIED');
    }
  });

  it('on the mobile channel every change needs "confirm": true', async () => {
    const unconfirmed = await createApp(tokens.adminMobile!, { name: 'phone-app' });
    expect(unconfirmed.status).toBe(403);
    expect(unconfirmed.body.error.code).toBe('CONFIRMATION_REQUIRED');
    const confirmed = await createApp(tokens.adminMobile!, { name: 'phone-app', confirm: true });
    expect(confirmed.status).toBe(201);
    const rotate = await call<ErrorBody>(gw.base, 'POST', `/v1/apps/${confirmed.body.id}/secret`, { token: tokens.adminMobile });
    expect(rotate.body.error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await call(gw.base, 'POST', `/v1/apps/${confirmed.body.id}/secret?confirm=true`, { token: tokens.adminMobile })).status).toBe(200);
    const remove = await call<ErrorBody>(gw.base, 'DELETE', `/v1/apps/${confirmed.body.id}`, { token: tokens.adminMobile });
    expect(remove.body.error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await call(gw.base, 'DELETE', `/v1/apps/${confirmed.body.id}?confirm=true`, { token: tokens.adminMobile })).status).toBe(204);
  });

  it('tenant B can read, rotate or delete none of tenant A\'s apps: each attempt answers 404, and A\'s app keeps working', async () => {
    const app = (await createApp(tokens.admin!, { name: 'walled' })).body;
    const live = await mqttAs(app);
    const listed = await call<{ apps: AppEntry[] }>(gw.base, 'GET', '/v1/apps', { token: tokens.globex });
    expect(listed.status).toBe(200);
    expect(listed.body.apps).toEqual([]);
    const rotate = await call<ErrorBody>(gw.base, 'POST', `/v1/apps/${app.id}/secret`, { token: tokens.globex });
    const remove = await call<ErrorBody>(gw.base, 'DELETE', `/v1/apps/${app.id}`, { token: tokens.globex });
    for (const refused of [rotate, remove]) {
      expect(refused.status).toBe(404);
      expect(refused.body.error).toEqual({ code: 'APP_NOT_FOUND', message: `Not found, or no access: ${app.id}.`, details: { ids: [app.id] } });
    }
    // The same answer as for an id that exists nowhere.
    const nowhere = await call<ErrorBody>(gw.base, 'DELETE', '/v1/apps/00000000-0000-4000-8000-000000000000', { token: tokens.globex });
    expect(nowhere.status).toBe(404);
    expect(nowhere.body.error.code).toBe('APP_NOT_FOUND');
    await stillConnected(live);
    const again = await mqttAs(app);
    await stillConnected(again);
  });
});
