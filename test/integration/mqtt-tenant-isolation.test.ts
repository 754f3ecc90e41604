import { describe, expect, it } from 'vitest';
import { twoTenantGateway } from '../support/broker-fixture.js';
import { markerAfter, record, stillConnected, subscribe, until, withoutMarkers, type Received } from '../support/mqtt.js';

/** Tenant B never receives a byte of tenant A, whatever it subscribes to; both use the same device names. */
describe('MQTT tenant isolation', () => {
  const { fixture, client } = twoTenantGateway('watcher');
  const creds = fixture.creds;

  const fromBeta = (messages: Received[]) => messages.filter((m) => m.payload.includes('beta'));

  /**
   * For a watcher in alpha, the proof that beta's messages, already acknowledged to their publisher (QoS 1:
   * aedes routes a message in the turn it writes its PUBACK, before the publisher can send anything more),
   * did not reach it: alpha's own sensor publishes a marker after them, which the watcher receives.
   */
  async function alphaMarker(watchers: Received[][]): Promise<void> {
    await markerAfter(await client('alpha.sensor'), 'devices/sensor-1/events/marker', watchers);
  }

  it('wildcard subscriptions see only their own tenant', async () => {
    const alpha = await client('alpha.watcher');
    const beta = await client('beta.watcher');
    const alphaSeen = record(alpha);
    const betaSeen = record(beta);
    for (const watcher of [alpha, beta]) {
      expect(await subscribe(watcher, ['#', '+/+/telemetry', 'devices/+/telemetry', 'devices/sensor-1/#'], 1)).toEqual([1, 1, 1, 1]);
    }
    const sensor = await client('beta.sensor');
    await sensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ from: 'beta' }), { qos: 1 });
    await sensor.publishAsync('devices/sensor-1/events/alarm', JSON.stringify({ from: 'beta' }), { qos: 1 });
    await until(() => betaSeen.some((m) => m.topic === 'devices/sensor-1/events/alarm'), 5_000, 'beta to receive its own messages');
    expect(betaSeen.some((m) => m.topic === 'devices/sensor-1/telemetry')).toBe(true);
    await alphaMarker([alphaSeen]);
    expect(withoutMarkers(alphaSeen)).toEqual([]);
    expect(betaSeen.every((m) => m.topic.startsWith('devices/sensor-1/'))).toBe(true);
  });

  it('retained messages stay in their tenant', async () => {
    const sensor = await client('beta.sensor');
    // Acknowledged: stored (the gateway stores a state before its PUBACK).
    await sensor.publishAsync('devices/sensor-1/state', JSON.stringify({ from: 'beta', on: true }), { qos: 1, retain: true });
    const beta = await client('beta.watcher');
    const betaSeen = record(beta);
    await subscribe(beta, 'devices/sensor-1/state');
    await until(() => betaSeen.length === 1, 5_000, 'beta\'s retained state');
    expect(betaSeen[0]).toMatchObject({ topic: 'devices/sensor-1/state', retain: true });
    // A retained marker of alpha's own, stored after beta's state: one SUBSCRIBE's retained messages come in
    // one stream, filter after filter and each in the order stored, so the marker, matched by the last
    // filter only, comes after anything the others would bring.
    const alphaSensor = await client('alpha.sensor');
    await alphaSensor.publishAsync('devices/sensor-1/events/retained-marker', JSON.stringify({ from: 'alpha' }), { qos: 1, retain: true });
    const alpha = await client('alpha.watcher');
    const alphaSeen = record(alpha);
    await subscribe(alpha, ['devices/sensor-1/state', '#']);
    await until(() => alphaSeen.some((m) => m.topic === 'devices/sensor-1/events/retained-marker'), 5_000, 'alpha\'s retained marker');
    await alphaSensor.publishAsync('devices/sensor-1/events/retained-marker', '', { qos: 1, retain: true });
    expect(fromBeta(alphaSeen)).toEqual([]);
  });

  it('a will reaches only its own tenant', async () => {
    const alpha = await client('alpha.watcher');
    const beta = await client('beta.watcher');
    const alphaSeen = record(alpha);
    const betaSeen = record(beta);
    await subscribe(alpha, '#');
    await subscribe(beta, 'devices/+/events/#');
    const sensor = await client('beta.sensor', { will: { topic: 'devices/sensor-1/events/offline', payload: Buffer.from('{"from":"beta","gone":true}'), qos: 1, retain: false } });
    sensor.stream.destroy(); // not a DISCONNECT: the will fires
    await until(() => betaSeen.some((m) => m.topic === 'devices/sensor-1/events/offline'), 5_000, 'the will');
    // The will was routed before beta's watcher had it; alpha's marker is published after that.
    await alphaMarker([alphaSeen]);
    expect(fromBeta(alphaSeen)).toEqual([]);
  });

  it('a will on a topic the credential may not publish is refused at CONNECT', async () => {
    await expect(client('beta.sensor', { will: { topic: 'devices/other/events/x', payload: Buffer.from('x'), qos: 0, retain: false } })).rejects.toMatchObject({ code: 5 });
  });

  it('the same client id in two tenants is two sessions: no takeover, no shared persistent session', async () => {
    const alphaFirst = await client('alpha.watcher', { clientId: 'dashboard', clean: false });
    await subscribe(alphaFirst, 'devices/+/telemetry', 1);
    await alphaFirst.endAsync();
    const beta = await client('beta.watcher', { clientId: 'dashboard', clean: false });
    const betaSeen = record(beta);
    expect((beta as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent ?? false).toBe(false);
    // While alpha's dashboard is away, each tenant's sensor publishes.
    const alphaSensor = await client('alpha.sensor');
    const betaSensor = await client('beta.sensor');
    await alphaSensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ from: 'alpha', n: 1 }), { qos: 1 });
    await betaSensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ from: 'beta', n: 1 }), { qos: 1 });
    const alphaAgain = await client('alpha.watcher', { clientId: 'dashboard', clean: false });
    const alphaSeen = record(alphaAgain);
    await until(() => alphaSeen.length >= 1, 5_000, 'alpha\'s queued message');
    // Beta's dashboard subscribed to nothing: it may get its own marker, and nothing else. Alpha's marker
    // (live, after the queue, which aedes writes as soon as the CONNACK is out) shows the queue held one message.
    await subscribe(alphaAgain, 'devices/sensor-1/events/marker', 1);
    await alphaMarker([alphaSeen]);
    expect(withoutMarkers(alphaSeen).map((m) => JSON.parse(m.payload).from)).toEqual(['alpha']);
    await stillConnected(beta);
    await subscribe(beta, 'devices/sensor-1/events/marker', 1);
    await markerAfter(betaSensor, 'devices/sensor-1/events/marker', [betaSeen]);
    expect(withoutMarkers(betaSeen)).toEqual([]);
  });

  it('$SYS shows an app its own tenant\'s broker only; devices may not subscribe to it', async () => {
    const alpha = await client('alpha.watcher');
    const alphaSeen = record(alpha);
    expect(await subscribe(alpha, '$SYS/#')).toEqual([0]);
    await client('beta.sensor', { clientId: 'beta-marker' });
    await client('alpha.sensor', { clientId: 'alpha-marker' });
    // aedes announces a client on $SYS before it writes its CONNACK, and alpha-marker's CONNECT was sent after
    // beta-marker's CONNACK: a notice of beta-marker reaching alpha would come before alpha-marker's own.
    await until(() => alphaSeen.some((m) => m.payload.includes('alpha-marker')), 5_000, 'alpha\'s own $SYS news');
    expect(alphaSeen.filter((m) => m.payload.includes('beta-marker') || m.payload.includes(creds['beta.sensor']!.id))).toEqual([]);
    const sensor = await client('alpha.sensor');
    expect(await subscribe(sensor, '$SYS/#')).toEqual([128]);
  });
});
