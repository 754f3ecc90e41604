import type { MqttClient } from 'mqtt';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { metric } from '../support/metrics.js';
import { connect, exchange, rawConnect, rawStream, record, stillConnected, subscribe, until } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

/** Each bad input gets its refusal; everyone else keeps being served. */
describe('bad input on the broker', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let device: Credential;
  let bystander: Credential;
  let watcherCred: Credential;
  let watcher: MqttClient;
  let heard: ReturnType<typeof record>;
  const open: MqttClient[] = [];

  async function as(credential: Credential, options: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
    const c = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password, ...options });
    open.push(c);
    return c;
  }

  /** The bystander's message still gets through, end to end. */
  async function othersStillServed(): Promise<void> {
    const before = heard.length;
    const other = await as(bystander);
    await other.publishAsync('devices/bystander/telemetry', JSON.stringify({ alive: Date.now() }), { qos: 1 });
    await until(() => heard.length > before, 5_000, 'the bystander\'s message');
  }

  beforeAll(async () => {
    gw = await startBrokerGateway({ MQTT_MAX_PAYLOAD_BYTES: '8192', MQTT_RATE_MESSAGES: '300', TELEMETRY_MAX_BYTES: '4096' });
    await gw.tenant('edge');
    device = await gw.device('edge', 'noisy');
    bystander = await gw.device('edge', 'bystander');
    watcherCred = await gw.app('edge', 'watcher');
    watcher = await connect(gw.endpoints.tcp, { username: watcherCred.username, password: watcherCred.password });
    heard = record(watcher);
    await subscribe(watcher, 'devices/bystander/#', 1);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(async () => {
    await watcher?.endAsync(true);
    await gw?.close();
  });

  it('garbage bytes instead of a CONNECT close that connection only', async () => {
    const url = new URL(gw.endpoints.tcp);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03]));
    await closed;
    await othersStillServed();
    expect(await (await fetch(`${gw.base}/metrics`)).text()).toMatch(/gatehouse_mqtt_malformed_total [1-9]/);
  });

  it('a malformed packet after CONNECT closes that connection only', async () => {
    const stream = await rawStream(gw.endpoints, 'tcp');
    expect(await exchange(stream, [rawConnect({ clientId: 'broken', clean: true, username: device.username, password: device.password })])).toMatchObject({ cmd: 'connack', returnCode: 0 });
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])); // a remaining length of five bytes: invalid
    await closed;
    await othersStillServed();
  });

  it('an oversized payload is dropped and counted; the connection stays', async () => {
    const client = await as(device);
    await client.publishAsync('devices/noisy/events/blob', Buffer.alloc(20_000, 1), { qos: 1 });
    await client.publishAsync('devices/noisy/telemetry', JSON.stringify({ pad: 'x'.repeat(5_000) }), { qos: 1 });
    await stillConnected(client);
    const metrics = await (await fetch(`${gw.base}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_mqtt_publishes_refused_total\{reason="payload_too_large"\} 1/);
    expect(metrics).toMatch(/gatehouse_telemetry_rejected_total\{reason="too_large"\} 1/);
    await othersStillServed();
  });

  it('a 70 000-byte topic is refused and nothing else suffers', async () => {
    const refusals = async () =>
      [...(await (await fetch(`${gw.base}/metrics`)).text()).matchAll(/^gatehouse_mqtt_publishes_refused_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    const before = await refusals();
    const stream = await rawStream(gw.endpoints, 'tcp');
    expect(await exchange(stream, [rawConnect({ clientId: 'long-topic', clean: true, username: device.username, password: device.password })])).toMatchObject({ returnCode: 0 });
    // The topic length field holds 16 bits: 70 000 bytes cannot be framed honestly, so the packet is malformed or truncated.
    const topic = Buffer.alloc(70_000, 0x61);
    const header = Buffer.alloc(2);
    header.writeUInt16BE(70_000 & 0xffff);
    const body = Buffer.concat([header, topic, Buffer.from('{}')]);
    const length: number[] = [];
    for (let remaining = body.length; ; ) {
      let byte = remaining % 128;
      remaining = Math.floor(remaining / 128);
      if (remaining > 0) byte |= 0x80;
      length.push(byte);
      if (remaining === 0) break;
    }
    stream.write(Buffer.concat([Buffer.from([0x30, ...length]), body]));
    await waitFor(async () => ((await refusals()) > before ? true : undefined), 5_000, 'the refusal to be counted');
    await othersStillServed();
    stream.destroy();
    // A topic over the configured length on a well-formed packet: dropped too.
    const client = await as(device);
    await client.publishAsync(`devices/noisy/events/${'x'.repeat(2_000)}`, '{}', { qos: 1 });
    await stillConnected(client);
  });

  it('a flood over the rate limit disconnects the flooder, audits it, and spares the others', async () => {
    const flooder = await as(device, { clientId: 'flooder' });
    const closed = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
    for (let i = 0; i < 3_000; i++) flooder.publish('devices/noisy/telemetry', '{"f":1}', { qos: 0 });
    await closed;
    await othersStillServed();
    const events = await waitFor(async () => {
      const rows = await gw.gateway.core.db.platformQuery<{ details: { reason: string } }>(`SELECT details FROM security_events WHERE event_type = 'DEVICE_TOPIC_VIOLATION' AND device_id = $1`, [device.id]);
      return rows.some((row) => row.details.reason === 'rate limit exceeded') ? rows : undefined;
    }, 5_000, 'the rate-limit event');
    expect(events.length).toBeGreaterThan(0);
  });
});

describe('a fast QoS 0 publisher outrunning a subscriber that then leaves (aedes #193)', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;

  beforeAll(async () => {
    gw = await startBrokerGateway({ MQTT_RATE_MESSAGES: '1000000', MQTT_RATE_BYTES: '1000000000' });
    await gw.tenant('burst');
  });
  afterAll(() => gw?.close());

  it('does not crash the gateway, and others keep being served', async () => {
    const watcher = await gw.app('burst', 'watcher');
    const slow = await connect(gw.endpoints.tcp, { username: watcher.username, password: watcher.password, clientId: 'slow' });
    await subscribe(slow, 'devices/#', 0);
    (slow.stream as net.Socket).pause(); // stops reading: the broker's queue to it grows
    const publishers = await Promise.all([1, 2, 3, 4].map(async (n) => {
      const credential = await gw.device('burst', `burst-${n}`);
      return connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    }));
    for (let round = 0; round < 20_000; round++) {
      for (const [n, p] of publishers.entries()) p.publish(`devices/burst-${n + 1}/events/x`, Buffer.alloc(100, 7), { qos: 0 });
      if (round % 1_000 === 0) await new Promise((resolve) => setImmediate(resolve)); // lets the gateway read
    }
    // A QoS 1 message after the burst, on each connection: its PUBACK means the broker has routed the whole
    // burst before it (towards the paused subscriber's growing queue).
    await Promise.all(publishers.map((p, n) => p.publishAsync(`devices/burst-${n + 1}/events/flushed`, '{}', { qos: 1 })));
    slow.stream.destroy();
    // The gateway has seen the subscriber leave: only the four publishers are connected.
    await waitFor(async () => ((await metric(gw.base, 'gatehouse_mqtt_connections')) === publishers.length ? true : undefined), 10_000, 'the slow subscriber\'s close');
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    const listener = await connect(gw.endpoints.tcp, { username: watcher.username, password: watcher.password });
    const heard = record(listener);
    await subscribe(listener, 'devices/burst-1/events/after', 1);
    await publishers[0]!.publishAsync('devices/burst-1/events/after', '{}', { qos: 1 });
    await until(() => heard.length === 1, 10_000, 'a message after the burst');
    await Promise.all([...publishers, listener].map((c) => c.endAsync(true)));
  }, 60_000);
});
