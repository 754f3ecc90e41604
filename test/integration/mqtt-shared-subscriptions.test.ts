import { describe, expect, it } from 'vitest';
import { twoTenantGateway } from '../support/broker-fixture.js';
import { isMarker, markerToEach, record, subscribe, until, withoutMarkers, type Received } from '../support/mqtt.js';

/** `$share/<group>/<filter>` (and EMQX's `$queue/<filter>`), offered to MQTT 3.1.1 clients: each message to one member of the group, inside the tenant. */
describe('MQTT shared subscriptions', () => {
  const { client } = twoTenantGateway('worker', async (gw, creds) => {
    creds['alpha.states'] = await gw.app('alpha', 'states', { subscribe: ['devices/+/state'] });
  });

  it('hands each message to one member of the group, in turn, while other groups and plain subscribers get every one', async () => {
    const members = await Promise.all([1, 2, 3].map(() => client('alpha.worker')));
    const received = members.map(record);
    for (const member of members) expect(await subscribe(member, '$share/workers/devices/+/telemetry', 1)).toEqual([1]);
    const audit = await client('alpha.worker');
    const plain = await client('alpha.worker');
    const [audited, seen] = [record(audit), record(plain)];
    expect(await subscribe(audit, '$queue/devices/#', 1)).toEqual([1]);
    expect(await subscribe(plain, 'devices/+/telemetry', 1)).toEqual([1]);

    const sensor = await client('alpha.sensor');
    for (let n = 1; n <= 30; n++) await sensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ n }), { qos: 1 });
    await markerToEach(sensor, 'devices/sensor-1/telemetry', received);

    const taken = received.map((messages) => withoutMarkers(messages).map((m) => JSON.parse(m.payload).n as number));
    expect(taken.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(taken.map((numbers) => numbers.length)).toEqual([10, 10, 10]);
    expect(received.flat().every((m) => m.topic === 'devices/sensor-1/telemetry' && m.qos === 1)).toBe(true);
    const markers = received.flat().filter(isMarker).length;
    await until(() => audited.filter(isMarker).length === markers && seen.filter(isMarker).length === markers, 5_000, 'every marker at the whole subscribers');
    expect(withoutMarkers(audited)).toHaveLength(30);
    expect(withoutMarkers(seen)).toHaveLength(30);
  });

  it('judges the filter by the credential\'s ACL as the same filter alone, and refuses a malformed one', async () => {
    const states = await client('alpha.states');
    expect(await subscribe(states, ['$share/g/devices/+/state', '$queue/devices/+/state', '$share/g/devices/+/telemetry', '$share/g/#', '$share/g', '$share//devices/+/state', '$share/g/'], 1))
      .toEqual([1, 1, 128, 128, 128, 128, 128]);
  });

  it('never crosses tenants: the same group name in another tenant is another group', async () => {
    const alpha = await client('alpha.worker');
    const beta = await client('beta.worker');
    const [alphaSeen, betaSeen] = [record(alpha), record(beta)];
    await subscribe(alpha, '$share/workers/devices/+/telemetry', 1);
    await subscribe(beta, '$share/workers/devices/+/telemetry', 1);
    const alphaSensor = await client('alpha.sensor');
    for (let n = 1; n <= 5; n++) await alphaSensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ from: 'alpha', n }), { qos: 1 });
    // Beta's marker is published after alpha's messages were acknowledged, and so routed.
    await markerToEach(await client('beta.sensor'), 'devices/sensor-1/telemetry', [betaSeen]);
    expect(withoutMarkers(betaSeen)).toEqual([]);
    await until(() => alphaSeen.length === 5, 5_000, 'alpha\'s five messages at its only member');
  });

  it('sends a shared subscription no retained message, and a member that unsubscribes takes no more turns', async () => {
    const sensor = await client('alpha.sensor');
    await sensor.publishAsync('devices/sensor-1/events/door', JSON.stringify({ open: true }), { qos: 1, retain: true });
    const [stays, leaves] = [await client('alpha.worker'), await client('alpha.worker')];
    const [stayed, left] = [record(stays), record(leaves)];
    await subscribe(stays, '$share/doors/devices/+/events/#', 1);
    await subscribe(leaves, '$share/doors/devices/+/events/#', 1);
    await markerToEach(sensor, 'devices/sensor-1/events/marker', [stayed, left]);
    expect([...stayed, ...left].filter((m) => m.topic === 'devices/sensor-1/events/door')).toEqual([]);

    await leaves.unsubscribeAsync('$share/doors/devices/+/events/#');
    const before = stayed.length;
    for (let n = 1; n <= 4; n++) await sensor.publishAsync('devices/sensor-1/events/door', JSON.stringify({ n }), { qos: 1 });
    await markerToEach(sensor, 'devices/sensor-1/events/marker', [stayed]);
    expect(withoutMarkers(stayed.slice(before)).map((m) => JSON.parse(m.payload).n)).toEqual([1, 2, 3, 4]);
    expect(withoutMarkers(left)).toEqual([]);
  });

  it('a persistent session rejoins its groups when it comes back; while it is away the others take its turns', async () => {
    const away = await client('alpha.worker', { clientId: 'shared-member', clean: false });
    await subscribe(away, '$share/night/devices/+/telemetry', 1);
    const other = await client('alpha.worker');
    const otherSeen = record(other);
    await subscribe(other, '$share/night/devices/+/telemetry', 1);
    await away.endAsync();
    const sensor = await client('alpha.sensor');
    for (let n = 1; n <= 3; n++) await sensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ n }), { qos: 1 });
    await until(() => otherSeen.length === 3, 5_000, 'the three messages at the member still connected');

    const back = await client('alpha.worker', { clientId: 'shared-member', clean: false });
    expect((back as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent).toBe(true);
    const backSeen = record(back);
    for (let n = 4; n <= 7; n++) await sensor.publishAsync('devices/sensor-1/telemetry', JSON.stringify({ n }), { qos: 1 });
    await markerToEach(sensor, 'devices/sensor-1/telemetry', [backSeen, otherSeen]);
    const numbers = (messages: Received[]) => withoutMarkers(messages).map((m) => JSON.parse(m.payload).n as number);
    expect(numbers(backSeen).length).toBeGreaterThan(0);
    expect([...numbers(otherSeen), ...numbers(backSeen)].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    // A group joined after the resume is served like the restored one (its only member, so every message).
    expect(await subscribe(back, '$share/day/devices/+/events/#', 1)).toEqual([1]);
    const before = backSeen.length;
    for (let n = 1; n <= 3; n++) await sensor.publishAsync('devices/sensor-1/events/day', JSON.stringify({ n }), { qos: 1 });
    await until(() => backSeen.slice(before).filter((m) => m.topic === 'devices/sensor-1/events/day').length === 3, 5_000, 'the new group\'s three messages');
  });
});
