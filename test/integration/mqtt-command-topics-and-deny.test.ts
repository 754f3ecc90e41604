import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CommandMessage } from '../../src/core/event-bus.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { connect, markerAfter, record, subscribe, until, withoutMarkers, type Received } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

/**
 * The command topics belong to the gateway (DESIGN.md §2): no credential
 * publishes a command, whatever its filters; and a deny filter withholds the
 * topics it names from a wider subscription instead of refusing it whole.
 */
describe('command topics and deny filters, with real MQTT clients', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let tenantId: string;
  let door: Credential;
  let backend: Credential;
  let dashboard: Credential;
  const open: MqttClient[] = [];

  async function as(credential: Credential): Promise<MqttClient> {
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    open.push(client);
    return client;
  }

  /** A command published the gateway's way (what the command service announces once it stored one). */
  function gatewayCommand(deviceName: string, name: string): CommandMessage {
    const now = Date.now();
    const command = { id: randomUUID(), name, params: {}, issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + 60_000).toISOString() };
    gw.gateway.core.events.emit('command.issued', { tenantId, deviceName, command });
    return command;
  }

  beforeAll(async () => {
    gw = await startBrokerGateway();
    tenantId = (await gw.tenant('wall')).id;
    door = await gw.device('wall', 'door');
    backend = await gw.app('wall', 'backend'); // the default: publish and subscribe '#'
    dashboard = await gw.app('wall', 'dashboard', { denySubscribe: ['devices/+/commands/#'] });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('an app with # publish rights cannot command a device: the device gets only the gateway\'s command, and the attempt is audited', async () => {
    const device = await as(door);
    const inbox = record(device);
    expect(await subscribe(device, 'devices/door/commands/#', 1)).toEqual([1]);
    const app = await as(backend);
    const forged = `devices/door/commands/${randomUUID()}`;
    // Acknowledged (MQTT 3.1.1 cannot refuse a PUBLISH [MQTT-3.3.5-2]) and routed nowhere.
    await app.publishAsync(forged, JSON.stringify({ name: 'unlock', params: {} }), { qos: 1 });
    // The marker: a command the gateway publishes after the forged one was acknowledged. One subscriber
    // receives in the order routed, so once it is in, the forged one would have been too.
    const real = gatewayCommand('door', 'status');
    await until(() => inbox.some((message) => message.topic.endsWith(real.id)), 5_000, 'the gateway\'s command');
    expect(inbox.map((message) => message.topic)).toEqual([`devices/door/commands/${real.id}`]);

    const events = await waitFor(async () => {
      const rows = await gw.gateway.core.db.withPlatform(async (tx) => (await tx.query<{ tenant_id: string; principal: unknown; details: { topic: string } }>(
        `SELECT tenant_id, principal, details FROM security_events WHERE event_type = 'DEVICE_TOPIC_VIOLATION' AND details->>'topic' = $1`, [forged])).rows);
      return rows.length > 0 ? rows : undefined;
    }, 5_000, 'the violation event');
    expect(events).toEqual([expect.objectContaining({ tenant_id: tenantId, principal: expect.objectContaining({ kind: 'app', id: backend.id }), details: expect.objectContaining({ reason: 'topic not allowed', topic: forged }) })]);
  });

  it('neither does a device publish a command, to itself or another; its own result it may', async () => {
    const other = await gw.device('wall', 'window');
    const target = await as(other);
    const inbox = record(target);
    await subscribe(target, 'devices/window/commands/#', 1);
    const watcher = await as(backend);
    const watched = record(watcher);
    await subscribe(watcher, 'devices/+/commands/#', 1);
    const device = await as(door);
    await device.publishAsync(`devices/window/commands/${randomUUID()}`, '{"name":"open"}', { qos: 1 });
    await device.publishAsync(`devices/door/commands/${randomUUID()}`, '{"name":"open"}', { qos: 1 });
    const result = `devices/door/commands/${randomUUID()}/result`;
    await device.publishAsync(result, '{"status":"ok"}', { qos: 1 });
    await until(() => watched.some((message) => message.topic === result), 5_000, 'the result');
    const real = gatewayCommand('window', 'status');
    await until(() => inbox.some((message) => message.topic.endsWith(real.id)), 5_000, 'the gateway\'s command');
    expect(inbox.map((message) => message.topic)).toEqual([`devices/window/commands/${real.id}`]);
    expect(watched.map((message) => message.topic)).toEqual([result, `devices/window/commands/${real.id}`]);
  });

  it('a credential denying devices/+/commands/# subscribes to #: granted, gets telemetry, and no command, live or retained', async () => {
    const device = await as(door);
    const commands = record(device);
    await subscribe(device, 'devices/door/commands/#', 1);
    // Retained before the dashboard subscribes: the device's state, and a command result the device retained
    // (the one thing in the command namespace a client can publish).
    const retainedResult = `devices/door/commands/${randomUUID()}/result`;
    await device.publishAsync('devices/door/state', '{"locked":true}', { qos: 1, retain: true });
    await device.publishAsync(retainedResult, '{"status":"ok"}', { qos: 1, retain: true });
    // Retained last, so sent last (see the control below): the retained marker.
    await device.publishAsync('devices/door/events/retained-marker', '{"last":true}', { qos: 1, retain: true });

    // A control without the deny filter sees what is retained, in the order it was stored.
    const control = await as(backend);
    const controlSeen = record(control);
    expect(await subscribe(control, '#', 1)).toEqual([1]);
    await until(() => controlSeen.some((message) => message.topic === 'devices/door/events/retained-marker'), 5_000, 'the control\'s retained marker');
    const retainedTopics = (seen: Received[]) => seen.filter((message) => message.retain).map((message) => message.topic);
    expect(retainedTopics(controlSeen)).toEqual(['devices/door/state', retainedResult, 'devices/door/events/retained-marker']);

    const watcher = await as(dashboard);
    const seen = record(watcher);
    expect(await subscribe(watcher, '#', 1)).toEqual([1]);
    // Only a filter wholly inside the deny is refused; one that merely overlaps it is granted (the Paho suite's +/+).
    expect(await subscribe(await as(dashboard), ['devices/+/commands/#', 'devices/door/commands/+', '+/+', 'devices/+/+'], 1)).toEqual([128, 128, 1, 1]);
    await until(() => seen.some((message) => message.topic === 'devices/door/events/retained-marker'), 5_000, 'the retained marker');
    expect(retainedTopics(seen)).toEqual(['devices/door/state', 'devices/door/events/retained-marker']);

    await device.publishAsync('devices/door/telemetry', '{"battery":80}', { qos: 1 });
    const live = gatewayCommand('door', 'status');
    await until(() => commands.some((message) => message.topic.endsWith(live.id)), 5_000, 'the command at the device');
    await device.publishAsync(`devices/door/commands/${live.id}/result`, '{"status":"ok"}', { qos: 1 });
    // Published by the device after it received the command and sent its result: once the marker is in,
    // a leaked command or result would be too.
    await markerAfter(device, 'devices/door/telemetry', [seen]);
    expect(withoutMarkers(seen).filter((message) => !message.retain).map((message) => message.topic)).toEqual(['devices/door/telemetry']);
    expect(seen.filter((message) => message.topic.includes('/commands'))).toEqual([]);
    // The control, with no deny filter, saw the same traffic including the command and its result.
    await markerAfter(device, 'devices/door/telemetry', [controlSeen]);
    expect(withoutMarkers(controlSeen).filter((message) => !message.retain).map((message) => message.topic)).toEqual(
      expect.arrayContaining(['devices/door/telemetry', `devices/door/commands/${live.id}`, `devices/door/commands/${live.id}/result`]));
  });
});
