import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { connect, exchange, rawConnect, rawStream, record, stillConnected, subscribe, until, type Transport } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';
import { fixedHeader, liveBytes, patchBytes, streamUntilClosed } from '../support/raw-mqtt.js';

const MiB = 1024 * 1024;
/** What an attacker streams at a declaration the gateway must refuse; the gateway must not keep it. */
const STREAMED = 20 * MiB;
/** Growth of heap + Buffers allowed across a test that streams STREAMED bytes (allocator noise, lazily made objects). */
const MEMORY_SLACK = 6 * MiB;

/** Bounded work before and after login, and MQTT strings that may not reach Postgres (issue 14). */
describe('bounded input on the broker', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let device: Credential;
  let watcherCred: Credential;
  let watcher: MqttClient;
  let heard: ReturnType<typeof record>;
  const open: MqttClient[] = [];

  const metric = async (pattern: RegExp) => Number((await (await fetch(`${gw.base}/metrics`)).text()).match(pattern)?.[1] ?? 0);
  const tooLarge = () => metric(/^gatehouse_mqtt_packets_too_large_total (\d+)$/m);

  async function asDevice(clientId: string): Promise<MqttClient> {
    const client = await connect(gw.endpoints.tcp, { username: device.username, password: device.password, clientId });
    open.push(client);
    return client;
  }

  /** A raw connection logged in as the device (CONNACK 0 seen). */
  async function loggedIn(transport: Transport, clientId: string) {
    const stream = await rawStream(gw.endpoints, transport);
    expect(await exchange(stream, [rawConnect({ clientId, clean: true, username: device.username, password: device.password })])).toMatchObject({ cmd: 'connack', returnCode: 0 });
    return stream;
  }

  /** The device's marker, heard by the watcher: everything the device sent before it was handled. */
  async function marker(client: MqttClient, name: string): Promise<void> {
    await client.publishAsync('devices/sensor/telemetry', JSON.stringify({ marker: name }), { qos: 1 });
    await until(() => heard.some((m) => m.payload.includes(name)), 5_000, `the marker ${name}`);
  }

  beforeAll(async () => {
    gw = await startBrokerGateway({
      MQTT_MAX_PAYLOAD_BYTES: String(MiB), MQTT_MAX_PACKET_BYTES: String(8 * MiB),
      MQTT_MAX_SUBSCRIPTIONS_PER_PACKET: '5', MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT: '8',
    });
    await gw.tenant('bounds');
    device = await gw.device('bounds', 'sensor');
    watcherCred = await gw.app('bounds', 'watcher');
    watcher = await connect(gw.endpoints.tcp, { username: watcherCred.username, password: watcherCred.password, clientId: 'watcher' });
    heard = record(watcher);
    await subscribe(watcher, 'devices/sensor/#', 1);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(async () => {
    await watcher?.endAsync(true);
    await gw?.close();
  });

  it('closes a CONNECT declaring 256 MiB from its header, and keeps none of what follows', async () => {
    const refusedBefore = await tooLarge();
    const before = liveBytes();
    const stream = await rawStream(gw.endpoints, 'tcp');
    const { written, closed } = await streamUntilClosed(stream, fixedHeader(0x10, 256 * MiB - 1), STREAMED);
    expect(closed).toBe(true);
    expect(written).toBeLessThan(STREAMED);
    expect(liveBytes() - before).toBeLessThan(MEMORY_SLACK);
    expect(await tooLarge()).toBe(refusedBefore + 1);
  });

  it('reads a CONNECT up to MQTT_MAX_CONNECT_BYTES and closes one just over it without a CONNACK', async () => {
    // A string holds at most 65 535 bytes: the client id and the password share the bulk.
    const connectOf = (bytes: number) => rawConnect({ clientId: 'c'.repeat(bytes / 2), clean: true, username: device.username, password: 'x'.repeat(bytes / 2) });
    const within = await rawStream(gw.endpoints, 'tcp');
    expect(await exchange(within, [connectOf(65_000)])).toMatchObject({ cmd: 'connack', returnCode: 4 });
    within.destroy();
    const over = await rawStream(gw.endpoints, 'tcp');
    expect(await exchange(over, [connectOf(66_000)])).toBe('closed');
  });

  for (const transport of ['tcp', 'ws'] as const) {
    it(`closes a connection whose PUBLISH declares more than the packet limit, without buffering it (${transport})`, async () => {
      const stream = await loggedIn(transport, `huge-${transport}`);
      const refusedBefore = await tooLarge();
      const before = liveBytes();
      const { written, closed } = await streamUntilClosed(stream, fixedHeader(0x30, 256 * MiB - 1), STREAMED);
      expect(closed).toBe(true);
      expect(written).toBeLessThan(STREAMED);
      expect(liveBytes() - before).toBeLessThan(MEMORY_SLACK);
      expect(await tooLarge()).toBe(refusedBefore + 1);
      await marker(await asDevice(`after-huge-${transport}`), `after-huge-${transport}`);
    });
  }

  it('drops and counts a payload over the payload limit but within the packet limit; the connection stays', async () => {
    const dropped = () => metric(/^gatehouse_mqtt_publishes_refused_total\{reason="payload_too_large"\} (\d+)$/m);
    const before = await dropped();
    const client = await asDevice('blob');
    // 6 MB: over MQTT_MAX_PAYLOAD_BYTES (1 MiB), under the packet limit (8 MiB), over the 5 MiB/s byte bucket.
    await client.publishAsync('devices/sensor/events/blob', Buffer.alloc(6_000_000, 1), { qos: 1 });
    await marker(client, 'after-blob');
    await stillConnected(client);
    expect(heard.some((m) => m.topic === 'devices/sensor/events/blob')).toBe(false);
    expect(await dropped()).toBe(before + 1);
  });

  it('refuses SUBSCRIBE entries past the per-packet limit and subscriptions past the per-client limit with 0x80', async () => {
    const app = await connect(gw.endpoints.tcp, { username: watcherCred.username, password: watcherCred.password, clientId: 'many' });
    open.push(app);
    const filters = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `devices/sensor/events/f${from + i}`);
    expect(await subscribe(app, filters(0, 7), 1)).toEqual([1, 1, 1, 1, 1, 128, 128]); // 5 per packet
    expect(await subscribe(app, filters(10, 14), 1)).toEqual([1, 1, 1, 128]); // 8 per client: 5 + 3
    expect(await subscribe(app, filters(0, 1), 0)).toEqual([0]); // a held filter may be subscribed again
    await app.unsubscribeAsync('devices/sensor/events/f0');
    expect(await subscribe(app, filters(20, 22), 1)).toEqual([1, 128]); // one place was freed
    // The granted ones deliver; a refused one does not (the marker, after it, proves it).
    const got = record(app);
    await subscribe(app, 'devices/sensor/telemetry', 1).then((granted) => expect(granted).toEqual([128]));
    const publisher = await asDevice('subs-publisher');
    await publisher.publishAsync('devices/sensor/events/f5', '{}', { qos: 1 });
    await publisher.publishAsync('devices/sensor/events/f20', '{}', { qos: 1 });
    await until(() => got.some((m) => m.topic === 'devices/sensor/events/f20'), 5_000, 'the granted subscription');
    expect(got.map((m) => m.topic)).toEqual(['devices/sensor/events/f20']);
  });

  describe('U+0000 and ill-formed UTF-8 [MQTT-1.5.3-1, MQTT-1.5.3-2, MQTT-4.7.3-2]', () => {
    const publishTo = (topic: string | Buffer, messageId = 7) =>
      mqttPacket.generate({ cmd: 'publish', topic: topic as string, payload: Buffer.from('{"t":1}'), qos: 1, messageId, retain: false, dup: false });

    it('a PUBLISH to a topic with U+0000 closes the connection unacknowledged, and is audited', async () => {
      const stream = await loggedIn('tcp', 'nul-publisher');
      expect(await exchange(stream, [publishTo('devices/sensor/telemetry/a\u0000b')])).toBe('closed');
      const rows = await waitFor(async () => {
        const found = await gw.gateway.core.db.platformQuery<{ details: { reason: string; topic: string } }>(
          `SELECT details FROM security_events WHERE event_type = 'DEVICE_TOPIC_VIOLATION' AND device_id = $1 AND details->>'reason' LIKE '%U+0000%'`, [device.id]);
        return found.length > 0 ? found : undefined;
      }, 5_000, 'the audited violation');
      expect(rows[0]!.details.topic).toBe('devices/sensor/telemetry/a\\u0000b');
    });

    it('a PUBLISH to a topic of ill-formed UTF-8 closes the connection, and nothing is stored', async () => {
      const stream = await loggedIn('tcp', 'bad-utf8-publisher');
      const topic = Buffer.concat([Buffer.from('devices/sensor/telemetry/'), Buffer.from([0xc3, 0x28, 0xff])]);
      expect(await exchange(stream, [publishTo(topic)])).toBe('closed');
      await marker(await asDevice('after-utf8'), 'after-utf8');
      const rows = await gw.gateway.core.db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE device_id = $1 AND stream LIKE $2', [device.id, '%\uFFFD%']);
      expect(Number(rows[0]!.n)).toBe(0);
    });

    it('a SUBSCRIBE or UNSUBSCRIBE filter with U+0000 or ill-formed UTF-8 closes the connection without an answer', async () => {
      const subscribeTo = (topic: string) => mqttPacket.generate({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic, qos: 1 }] });
      const unsubscribeFrom = (topic: string) => mqttPacket.generate({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: [topic] });
      const cases = [
        subscribeTo('devices/sensor/commands/\u0000'),
        patchBytes(subscribeTo('devices/sensor/commands/ZZ'), 'ZZ', [0xed, 0xa0]),
        unsubscribeFrom('devices/sensor/commands/\u0000'),
        patchBytes(unsubscribeFrom('devices/sensor/commands/ZZ'), 'ZZ', [0xc0, 0xaf]),
      ];
      for (const [n, packet] of cases.entries()) {
        const stream = await loggedIn('tcp', `bad-filter-${n}`);
        expect(await exchange(stream, [packet])).toBe('closed');
      }
    });

    it('a will topic with U+0000 closes the connection; a username with it gets CONNACK 4, a client id CONNACK 2', async () => {
      const connectWith = (fields: { clientId?: string; username?: string; willTopic?: string }) => mqttPacket.generate({
        cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30,
        clientId: fields.clientId ?? 'strings', username: fields.username ?? device.username, password: Buffer.from(device.password),
        ...(fields.willTopic ? { will: { topic: fields.willTopic, payload: Buffer.from('gone'), qos: 0 as const, retain: false } } : {}),
      });
      const answer = async (packet: Buffer) => exchange(await rawStream(gw.endpoints, 'tcp'), [packet]);
      expect(await answer(connectWith({ willTopic: 'devices/sensor/events/\u0000' }))).toBe('closed');
      expect(await answer(patchBytes(connectWith({ willTopic: 'devices/sensor/events/ZZ' }), 'ZZ', [0xf8, 0x88]))).toBe('closed');
      expect(await answer(connectWith({ username: `${device.username}\u0000` }))).toMatchObject({ cmd: 'connack', returnCode: 4 });
      expect(await answer(connectWith({ clientId: 'a\u0000b' }))).toMatchObject({ cmd: 'connack', returnCode: 2 });
      expect(await answer(patchBytes(connectWith({ clientId: 'cZZ' }), 'ZZ', [0xe2, 0x28]))).toMatchObject({ cmd: 'connack', returnCode: 2 });
    });

    it('a NUL-username CONNECT beside 100 legitimate ones leaves all 100 connected', async () => {
      const others = await Promise.all([1, 2, 3, 4].map(async (n) => {
        await gw.tenant(`crowd-${n}`);
        return gw.device(`crowd-${n}`, 'member');
      }));
      const nul = rawConnect({ clientId: 'nul', clean: true, username: 'member@crowd-1\u0000', password: 'x' });
      const results = await Promise.all(Array.from({ length: 101 }, async (_, i) => {
        if (i === 50) return exchange(await rawStream(gw.endpoints, 'tcp'), [nul]);
        const credential = others[i % others.length]!;
        const stream = await rawStream(gw.endpoints, 'tcp');
        const answer = await exchange(stream, [rawConnect({ clientId: `crowd-${i}`, clean: true, username: credential.username, password: credential.password })]);
        stream.destroy();
        return answer;
      }));
      expect(results[50]).toMatchObject({ cmd: 'connack', returnCode: 4 });
      const legitimate = results.filter((_, i) => i !== 50);
      expect(legitimate.filter((answer) => answer !== 'closed' && answer.cmd === 'connack' && answer.returnCode === 0)).toHaveLength(100);
    });
  });
});
