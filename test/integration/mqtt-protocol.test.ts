import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { whileTelemetryCommitsWait } from '../support/database.js';
import { waitFor } from '../support/processes.js';
import { connect, exchange, markerAfter, rawConnect, rawStream, record, stillConnected, subscribe, until, urlFor, withoutMarkers, type Transport } from '../support/mqtt.js';

/** MQTT 3.1.1 within a tenant, over each transport. */
describe.each<Transport>(['tcp', 'tls', 'ws'])('MQTT 3.1.1 over %s', (transport) => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let device: Credential;
  let app: Credential;
  const open: MqttClient[] = [];

  async function as(credential: Credential, options: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
    const c = await connect(urlFor(gw.endpoints, transport), { username: credential.username, password: credential.password, ca: gw.endpoints.ca, rejectUnauthorized: true, ...options });
    open.push(c);
    return c;
  }

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('lab');
    device = await gw.device('lab', 'probe');
    app = await gw.app('lab', 'console');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('delivers QoS 0, 1 and 2, at the lower of the publish and subscription QoS', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    expect(await subscribe(watcher, 'devices/probe/events/#', 2)).toEqual([2]);
    const probe = await as(device);
    for (const qos of [0, 1, 2] as const) await probe.publishAsync(`devices/probe/events/q${qos}`, `{"qos":${qos}}`, { qos });
    await until(() => seen.length === 3, 5_000, 'three messages');
    expect(seen.map((m) => [m.topic, m.qos]).sort()).toEqual([['devices/probe/events/q0', 0], ['devices/probe/events/q1', 1], ['devices/probe/events/q2', 2]]);

    const low = await as(app);
    const lowSeen = record(low);
    await subscribe(low, 'devices/probe/events/#', 0);
    await probe.publishAsync('devices/probe/events/again', '{}', { qos: 2 });
    await until(() => lowSeen.length === 1, 5_000, 'downgraded message');
    expect(lowSeen[0]!.qos).toBe(0);
  });

  it('sends a QoS 2 message to a QoS 1 subscriber (clean session) of a wildcard or shared filter at QoS 1, and to overlapping subscriptions once, at the highest QoS granted', async () => {
    const [wildcard, shared, overlapping] = [await as(app), await as(app), await as(app)];
    const seen = [wildcard, shared, overlapping].map(record);
    expect(await subscribe(wildcard, 'devices/probe/events/+', 1)).toEqual([1]);
    expect(await subscribe(shared, '$share/qos/devices/probe/events/#', 1)).toEqual([1]);
    expect(await subscribe(overlapping, 'devices/probe/events/+', 1)).toEqual([1]);
    expect(await subscribe(overlapping, 'devices/+/events/#', 2)).toEqual([2]);
    const probe = await as(device);
    await probe.publishAsync('devices/probe/events/granted', '{"qos":2}', { qos: 2 });
    await markerAfter(probe, 'devices/probe/events/granted', seen);
    expect(seen.map((messages) => withoutMarkers(messages).map((m) => m.qos))).toEqual([[1], [1], [2]]);
  });

  it('keeps the last retained message per topic for new subscribers, and clears it with an empty one', async () => {
    const probe = await as(device);
    await probe.publishAsync('devices/probe/events/retained', '{"v":1}', { qos: 1, retain: true });
    await probe.publishAsync('devices/probe/events/retained', '{"v":2}', { qos: 1, retain: true });
    const late = await as(app);
    const seen = record(late);
    await subscribe(late, 'devices/probe/events/retained');
    await until(() => seen.length === 1, 5_000, 'the retained message');
    expect(seen[0]).toMatchObject({ payload: '{"v":2}', retain: true });
    await probe.publishAsync('devices/probe/events/retained', '', { qos: 1, retain: true });
    await probe.publishAsync('devices/probe/events/retained-marker', '{"marker":true}', { qos: 1, retain: true });
    const later = await as(app);
    const none = record(later);
    // One SUBSCRIBE, the cleared topic first: the store sends each filter's retained messages in the order
    // of the filters, in one stream, so the marker's arrival shows that the first filter had nothing.
    await subscribe(later, ['devices/probe/events/retained', 'devices/probe/events/retained-marker']);
    await until(() => none.some((m) => m.topic === 'devices/probe/events/retained-marker'), 5_000, 'the retained marker');
    await probe.publishAsync('devices/probe/events/retained-marker', '', { qos: 1, retain: true }); // no other test's subscriber gets it
    expect(none.map((m) => m.topic)).toEqual(['devices/probe/events/retained-marker']);
  });

  it('routes a retained state and the telemetry sent right after it to a live watcher, in order', async () => {
    const watchers = await Promise.all([0, 1].map(() => as(app)));
    const seen = watchers.map(record);
    await subscribe(watchers[0]!, 'devices/#', 0);
    await subscribe(watchers[1]!, 'devices/#', 1);
    const probe = await as(device);
    // One write: the state and the telemetry reach the broker in the same read.
    for (const qos of [0, 1] as const) {
      probe.publish('devices/probe/state', `{"qos":${qos}}`, { qos });
      for (let n = 0; n < 5; n++) probe.publish('devices/probe/telemetry', `{"n":${n}}`, { qos });
    }
    // The marker, after the twelve on the same connection: nothing more of them is on its way.
    await markerAfter(probe, 'devices/probe/events/marker', seen);
    for (const messages of seen) {
      const order = withoutMarkers(messages).map((m) => `${m.topic.split('/')[2]} ${m.payload} ${m.retain}`);
      expect(order).toEqual([0, 1].flatMap((qos) => [`state {"qos":${qos}} false`, ...[0, 1, 2, 3, 4].map((n) => `telemetry {"n":${n}} false`)]));
    }
    const late = await as(app);
    const retained = record(late);
    await subscribe(late, 'devices/probe/state');
    await until(() => retained.length === 1, 5_000, 'the retained state');
    expect(retained[0]).toMatchObject({ payload: '{"qos":1}', retain: true });
  });

  it('passes a client\'s messages on in the order it sent them, though the first waits for its commit and the second is stored at once', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    await subscribe(watcher, 'devices/probe/#', 1);
    const probe = await as(device);
    // The event after the held telemetry (another table) is stored meanwhile.
    await whileTelemetryCommitsWait(gw.gateway.core.db.pool, async (holder) => {
      probe.publish('devices/probe/telemetry', '{"held":true}', { qos: 1 });
      probe.publish('devices/probe/events/after-held', '{"stored":"first"}', { qos: 1 });
      await waitFor(async () => (await holder.query(`SELECT 1 FROM device_events WHERE kind = 'after-held'`)).rowCount || undefined, 5_000, 'the event stored');
    });
    await markerAfter(probe, 'devices/probe/events/marker', [seen]);
    expect(withoutMarkers(seen).filter((m) => !m.retain).map((m) => m.topic)).toEqual(['devices/probe/telemetry', 'devices/probe/events/after-held']);
  });

  it('delivers messages larger than a read slice whole, in order with the small ones around them', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    await subscribe(watcher, 'devices/probe/telemetry', 0);
    const probe = await as(device);
    const big = JSON.stringify({ pad: 'y'.repeat(12_000) }); // over the broker's 8 KiB read slice, under the 16 KiB telemetry limit
    for (const payload of ['{"n":1}', big, '{"n":2}', big, '{"n":3}']) probe.publish('devices/probe/telemetry', payload, { qos: 0 });
    await until(() => seen.length === 5, 5_000, 'five messages');
    expect(seen.map((m) => m.payload)).toEqual(['{"n":1}', big, '{"n":2}', big, '{"n":3}']);
  });

  it('publishes the will on an unexpected disconnect, and not after DISCONNECT', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    await subscribe(watcher, 'devices/probe/events/#', 1);
    // Departures are watched by another client: aedes numbers a will at CONNECT and routes a QoS 1 will after a
    // store lookup, so a $SYS notice sent to the same watcher overtakes it and its duplicate filter drops the will.
    const sys = await as(app);
    const departures = record(sys);
    await subscribe(sys, '$SYS/+/disconnect/clients', 0);
    // The payload is the client id as the tenant's broker knows it: `<credential id>/<client id>`.
    const gone = (clientId: string) => departures.some((m) => m.payload.endsWith(`/${clientId}`));
    const will = (polite: boolean) => ({ topic: 'devices/probe/events/will', payload: Buffer.from(`{"polite":${polite}}`), qos: 1 as const, retain: false });
    const polite = await as(device, { clientId: `polite-${transport}`, will: will(true) });
    await polite.endAsync();
    // aedes starts publishing a will, if any, before it announces the departure on $SYS: once the
    // departure is in, the polite client's close has been handled.
    await until(() => gone(`polite-${transport}`), 5_000, 'the polite client\'s departure on $SYS');
    const rude = await as(device, { clientId: `rude-${transport}`, will: will(false) });
    rude.stream.destroy();
    // The rude client's will, QoS 1 like the polite one and published after it would have been, is the marker.
    await until(() => seen.some((m) => m.topic === 'devices/probe/events/will'), 5_000, 'the will');
    expect(seen.filter((m) => m.topic === 'devices/probe/events/will').map((m) => m.payload)).toEqual(['{"polite":false}']);
  });

  it('queues QoS 1 messages for a persistent session, and not for a clean one', async () => {
    const persistent = await as(app, { clientId: `persist-${transport}`, clean: false });
    await subscribe(persistent, 'devices/probe/events/#', 1);
    await persistent.endAsync();
    const cleanOne = await as(app, { clientId: `clean-${transport}`, clean: true });
    await subscribe(cleanOne, 'devices/probe/events/#', 1);
    await cleanOne.endAsync();
    const probe = await as(device);
    await probe.publishAsync('devices/probe/events/while-away', '{"n":1}', { qos: 1 });
    const back = await as(app, { clientId: `persist-${transport}`, clean: false });
    const seen = record(back);
    await until(() => seen.length === 1, 5_000, 'the queued message');
    expect(seen[0]!.topic).toBe('devices/probe/events/while-away');
    const cleanBack = await as(app, { clientId: `clean-${transport}`, clean: true });
    const cleanSeen = record(cleanBack);
    // aedes starts writing a session's queued messages as soon as its CONNACK is written, in the same turn:
    // a message the client sends itself after that CONNACK comes behind any of them.
    await subscribe(cleanBack, 'devices/probe/events/clean-marker', 1);
    await markerAfter(cleanBack, 'devices/probe/events/clean-marker', [cleanSeen]);
    expect(withoutMarkers(cleanSeen)).toEqual([]);
  });

  it('delivers once to overlapping subscriptions of one client', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    await subscribe(watcher, ['devices/#', 'devices/+/events/#', 'devices/probe/events/overlap'], 1);
    const probe = await as(device);
    await probe.publishAsync('devices/probe/events/overlap', '{}', { qos: 1 });
    await markerAfter(probe, 'devices/probe/events/marker', [seen]);
    expect(seen.filter((m) => m.topic === 'devices/probe/events/overlap')).toHaveLength(1);
  });

  it('answers a SUBSCRIBE that repeats a filter with a return code for each filter [MQTT-3.9.3-1] and keeps the connection', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    expect(await subscribe(watcher, ['devices/probe/events/#', '$share/malformed', 'devices/probe/events/#'], 1)).toEqual([1, 128, 1]);
    await stillConnected(watcher);
    const probe = await as(device);
    await probe.publishAsync('devices/probe/events/repeated', '{}', { qos: 1 });
    await markerAfter(probe, 'devices/probe/events/marker', [seen]);
    expect(withoutMarkers(seen).map((m) => `${m.topic} ${m.qos}`)).toEqual(['devices/probe/events/repeated 1']);
  });

  it('unsubscribes the filter it was asked to', async () => {
    const watcher = await as(app);
    const seen = record(watcher);
    await subscribe(watcher, 'devices/probe/events/#', 1);
    await watcher.unsubscribeAsync('devices/probe/events/#');
    const probe = await as(device);
    await probe.publishAsync('devices/probe/events/after-unsubscribe', '{}', { qos: 1 });
    // The marker reaches the watcher through a filter it still holds.
    await subscribe(watcher, 'devices/probe/events/marker', 1);
    await markerAfter(probe, 'devices/probe/events/marker', [seen]);
    expect(withoutMarkers(seen)).toEqual([]);
  });

  it('handles zero-length client ids as [MQTT-3.1.3-6..9] require', async () => {
    const assigned = await as(device, { clientId: '', clean: true });
    await stillConnected(assigned);
    const stream = await rawStream(gw.endpoints, transport);
    const answer = await exchange(stream, [rawConnect({ clientId: '', clean: false, username: device.username, password: device.password })]);
    expect(answer).toMatchObject({ cmd: 'connack', returnCode: 2 }); // identifier rejected [MQTT-3.1.3-8]
    stream.destroy();
  });
});
