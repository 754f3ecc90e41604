import type { MqttClient } from 'mqtt';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { connect, markerAfter, record, refusedWith, stillConnected, subscribe, until, withoutMarkers } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

/** Inside one tenant: who may publish and subscribe to what. */
describe('MQTT intra-tenant ACL', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let sensor: Credential;
  let other: Credential;
  let readonlyApp: Credential;
  const open: MqttClient[] = [];

  async function as(credential: Credential, url = gw.endpoints.tcp, options: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
    const c = await connect(url, { username: credential.username, password: credential.password, ...options });
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('home');
    sensor = await gw.device('home', 'sensor-1');
    other = await gw.device('home', 'sensor-2');
    readonlyApp = await gw.app('home', 'dashboard', { subscribe: ['devices/+/telemetry/#', 'devices/+/state'], denyPublish: ['#'] });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('a device subscribes only to its own commands', async () => {
    const device = await as(sensor);
    expect(await subscribe(device, ['devices/sensor-1/commands/#', 'devices/sensor-1/commands/+', 'devices/sensor-2/commands/#', 'devices/+/commands/#', '#', 'devices/sensor-1/telemetry'])).toEqual([0, 0, 128, 128, 128, 128]);
  });

  it('a device publishes only its own telemetry, state, events and command results; the rest goes nowhere and is audited', async () => {
    const spy = await as(await gw.app('home', 'spy'));
    const seen = record(spy);
    await subscribe(spy, '#');
    const device = await as(sensor);
    const allowed = ['devices/sensor-1/telemetry', 'devices/sensor-1/telemetry/power', 'devices/sensor-1/state', 'devices/sensor-1/events/door', 'devices/sensor-1/commands/0190f3a4-0000-7000-8000-000000000000/result'];
    const refused = ['devices/sensor-2/telemetry', 'devices/sensor-1/commands/abc', 'devices/sensor-1/other', 'something/else'];
    for (const topic of [...refused, ...allowed]) await device.publishAsync(topic, '{"v":1}', { qos: 1 });
    // After the refused and allowed ones, on the same connection.
    await markerAfter(device, 'devices/sensor-1/events/marker', [seen]);
    expect(withoutMarkers(seen).map((m) => m.topic).sort()).toEqual([...allowed].sort());
    await stillConnected(device);
    const events = await waitFor(async () => {
      const rows = await gw.gateway.core.db.withPlatform(async (tx) => (await tx.query(`SELECT details FROM security_events WHERE event_type = 'DEVICE_TOPIC_VIOLATION' AND device_id = $1`, [sensor.id])).rows);
      return rows.length > 0 ? rows : undefined;
    }, 5_000, 'the violation event');
    // Rate-limited: four refusals in a row make one event.
    expect(events).toHaveLength(1);
    expect(events[0].details).toMatchObject({ reason: 'topic not allowed', topic: 'devices/sensor-2/telemetry' });
  });

  it('an app gets its allow filters minus its deny filters', async () => {
    const app = await as(readonlyApp);
    expect(await subscribe(app, ['devices/+/telemetry', 'devices/sensor-1/state', '#', 'devices/+/commands/#'])).toEqual([0, 0, 128, 128]);
    const seen = record(app);
    const device = await as(sensor);
    await device.publishAsync('devices/sensor-1/telemetry', '{"t":1}', { qos: 1 });
    await until(() => seen.length === 1, 5_000, 'telemetry');
    // Denied publish: acknowledged (MQTT 3.1.1 cannot refuse) and delivered to no one.
    const listener = await as(await gw.app('home', 'listener'));
    const heard = record(listener);
    await subscribe(listener, '#');
    await app.publishAsync('devices/sensor-1/commands/x', '{}', { qos: 1 });
    // The app may publish nothing, so the marker comes from the device, sent once the denied publish was
    // acknowledged: aedes routes a QoS 1 message in the turn it writes the PUBACK, before the client can answer it.
    await markerAfter(device, 'devices/sensor-1/events/marker', [heard]);
    expect(withoutMarkers(heard).filter((m) => !m.retain)).toEqual([]);
  });

  // Command topics are the gateway's alone, whatever an app's filters say: mqtt-command-topics-and-deny.test.ts.
  it('an app with the default filters may use the whole tenant', async () => {
    const app = await as(await gw.app('home', 'backend'));
    const watcher = await as(await gw.app('home', 'watcher'));
    const got = record(watcher);
    await subscribe(watcher, '#', 1);
    await app.publishAsync('lights/porch', 'on', { qos: 1 });
    await until(() => got.some((m) => m.topic === 'lights/porch' && m.payload === 'on'), 5_000, 'the app\'s message');
  });

  describe('a person on WebSocket with an access token', () => {
    it('watches telemetry, state and events, and never publishes', async () => {
      const { token } = await gw.user('home', 'viewer@home.test', 'viewer');
      const dashboard = await connect(gw.endpoints.ws, { username: '', password: token });
      open.push(dashboard);
      expect(await subscribe(dashboard, ['devices/+/telemetry', 'devices/+/state', 'devices/sensor-1/events/#', 'devices/+/commands/#', '#'])).toEqual([0, 0, 0, 128, 128]);
      const seen = record(dashboard);
      const device = await as(other);
      const commands = record(device);
      await subscribe(device, 'devices/sensor-2/commands/#');
      await device.publishAsync('devices/sensor-2/telemetry', '{"t":2}', { qos: 1 });
      await until(() => seen.length === 1, 5_000, 'telemetry on the dashboard');
      await dashboard.publishAsync('devices/sensor-2/commands/sneaky', '{"name":"unlock"}', { qos: 1 });
      // A person publishes nothing, and only the gateway publishes commands: the marker is a command result
      // (which the device's `commands/#` subscription matches) from a second connection of the device, sent
      // once the dashboard's publish was acknowledged (and so routed, if it were allowed).
      const twin = await as(other, gw.endpoints.tcp, { clientId: 'sensor-2-twin' });
      await markerAfter(twin, `devices/sensor-2/commands/${randomUUID()}/result`, [commands]);
      expect(withoutMarkers(commands)).toEqual([]);
    });

    it('is refused with a bad token, and tokens are not accepted over plain TCP', async () => {
      expect(await refusedWith(gw.endpoints.ws, { username: '', password: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' })).toBe(4);
      const { token } = await gw.user('home', 'member@home.test', 'member');
      expect(await refusedWith(gw.endpoints.tcp, { username: '', password: token })).toBe(4);
    });
  });

  it('CONNECT refusal codes follow MQTT 3.1.1: bad credentials 4, not authorized 5', async () => {
    expect(await refusedWith(gw.endpoints.tcp, { username: sensor.username, password: 'gd_wrong' })).toBe(4);
    expect(await refusedWith(gw.endpoints.tcp, { username: 'nobody@home', password: 'x' })).toBe(4);
    expect(await refusedWith(gw.endpoints.tcp, {})).toBe(4);
    const suspended = await gw.device('home', 'sensor-9');
    const ctx = await (await import('../../src/auth/operator.js')).operatorContext(gw.gateway.core.db, 'home');
    await gw.gateway.core.devices.setStatus(ctx, 'sensor-9', 'suspended');
    expect(await refusedWith(gw.endpoints.tcp, { username: suspended.username, password: suspended.password })).toBe(5);
  });

  it('a device revoked while connected is disconnected within seconds', async () => {
    const victim = await gw.device('home', 'sensor-revoked');
    const device = await as(victim);
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    const ctx = await (await import('../../src/auth/operator.js')).operatorContext(gw.gateway.core.db, 'home');
    await gw.gateway.core.devices.setStatus(ctx, 'sensor-revoked', 'revoked');
    await closed;
    expect(await refusedWith(gw.endpoints.tcp, { username: victim.username, password: victim.password })).toBe(5);
  });
});
