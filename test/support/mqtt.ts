import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { fixedHeader } from './raw-mqtt.js';
import { WebSocket, createWebSocketStream } from 'ws';

export type Transport = 'tcp' | 'tls' | 'ws';
export type Endpoints = { tcp: string; tls?: string; ws: string; ca?: string };

export function urlFor(endpoints: Endpoints, transport: Transport): string {
  const url = endpoints[transport];
  if (!url) throw new Error(`no ${transport} endpoint`);
  return url;
}

/** A real MQTT.js client; no automatic reconnects, so every outcome is the test's to see. */
export async function connect(url: string, options: IClientOptions & { ca?: string } = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4, ...options });
  return client;
}

/** The CONNACK return code of a refused connection (throws if it was accepted). */
export async function refusedWith(url: string, options: IClientOptions & { ca?: string }): Promise<number> {
  try {
    const client = await connect(url, options);
    await client.endAsync(true);
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (typeof code === 'number') return code;
    throw error;
  }
  throw new Error('the connection was accepted');
}

export type Received = { topic: string; payload: string; retain: boolean; qos: number };

/** Records every message the client receives. */
export function record(client: MqttClient): Received[] {
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
  return received;
}

/** The granted QoS per filter, 128 for a refusal (MQTT.js reports a refusal as an error carrying the SUBACK). */
export function subscribe(client: MqttClient, filter: string | string[], qos: 0 | 1 | 2 = 0): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos }, (error, granted) => {
      const suback = (error as { packet?: { granted?: number[] } } | null)?.packet?.granted;
      if (suback) return resolve(suback);
      if (error) return reject(error);
      resolve((granted ?? []).map((grant) => grant.qos));
    });
  });
}

export async function until(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let markers = 0;
const MARKER = '"gatehouse-test-marker"';

/** Whether a received message is one of markerAfter()'s markers. */
export const isMarker = (message: Received) => message.payload.includes(MARKER);

/** The messages a watcher received, without the markers. */
export const withoutMarkers = (messages: Received[]) => messages.filter((message) => !isMarker(message));

/**
 * The proof behind a negative check ("nothing else arrived"), instead of a sleep.
 * `from` publishes a marker on `topic` after the message under test and this
 * waits until every watcher has received it. One connection's messages are
 * routed in order and one subscriber receives in order [MQTT-4.6.0-5], so once
 * the marker is in, anything published before it that was routed to these
 * watchers is in too: a late leak shows, whatever its delay.
 *
 * - The marker goes through the same connection as the message under test,
 *   or, when that one may publish nothing the watchers can see, through a
 *   connection that publishes it only after the message under test was
 *   acknowledged (QoS 1: aedes routes it as soon as the PUBACK is written,
 *   before the next packet is read).
 * - `qos` is at least that of the message under test as delivered: the broker
 *   writes QoS 0 deliveries at once and QoS 1 and 2 after a store round trip,
 *   so a QoS 0 marker could overtake a QoS 1 message.
 */
export async function markerAfter(from: MqttClient, topic: string, watchers: Received[][], options: { qos?: 0 | 1 | 2; timeoutMs?: number } = {}): Promise<void> {
  const id = `${++markers}-${process.pid}`;
  await from.publishAsync(topic, `{${MARKER}:"${id}"}`, { qos: options.qos ?? 1 });
  const arrived = (messages: Received[]) => messages.some((message) => isMarker(message) && message.payload.includes(`"${id}"`));
  await until(() => watchers.every(arrived), options.timeoutMs ?? 5_000, `the marker on ${topic} at ${watchers.length} watcher(s)`);
}

/**
 * markerAfter() for the members of a shared subscription group, each of which
 * receives only some of what is published: markers until every member has
 * received one published after the messages under test (one member receives
 * in order, so its earlier messages are then in too).
 */
export async function markerToEach(from: MqttClient, topic: string, members: Received[][], options: { timeoutMs?: number } = {}): Promise<void> {
  const ids = new Set<string>();
  const hasOne = (messages: Received[]) => messages.some((message) => isMarker(message) && ids.has(JSON.parse(message.payload)[JSON.parse(MARKER)] as string));
  while (!members.every(hasOne)) {
    if (ids.size >= 50) throw new Error(`a member of ${members.length} received none of 50 markers on ${topic}`);
    const id = `${++markers}-${process.pid}`;
    ids.add(id);
    await from.publishAsync(topic, `{${MARKER}:"${id}"}`, { qos: 1 });
    await until(() => members.some((messages) => messages.some((message) => isMarker(message) && message.payload.includes(`"${id}"`))), options.timeoutMs ?? 5_000, `the marker on ${topic} at one member`);
  }
}

/**
 * "Still connected", shown by a round trip rather than read from a flag
 * (`client.connected` stays true until the close is seen): a PINGREQ on the
 * connection, answered by a PINGRESP [MQTT-3.12.4-1]. Rejects if the
 * connection closes first.
 */
export function stillConnected(client: MqttClient, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (client.stream.destroyed) return reject(new Error('the connection is closed'));
    const done = (error?: Error) => {
      clearTimeout(timer);
      client.off('packetreceive', onPacket);
      client.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onPacket = (packet: Packet) => {
      if (packet.cmd === 'pingresp') done();
    };
    const onClose = () => done(new Error('the connection closed before the PINGRESP'));
    const timer = setTimeout(() => done(new Error(`no PINGRESP within ${timeoutMs} ms`)), timeoutMs);
    client.on('packetreceive', onPacket);
    client.once('close', onClose);
    client.stream.write(mqttPacket.generate({ cmd: 'pingreq' }));
  });
}

/** A raw connection for what MQTT.js will not send (it refuses an empty client id with a persistent session). */
export async function rawStream(endpoints: Endpoints, transport: Transport): Promise<Duplex> {
  const url = new URL(urlFor(endpoints, transport));
  if (transport === 'ws') {
    const socket = new WebSocket(url.toString(), 'mqtt');
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return createWebSocketStream(socket);
  }
  const options = { host: url.hostname, port: Number(url.port) };
  return new Promise((resolve, reject) => {
    const socket = transport === 'tls'
      ? tls.connect({ ...options, ca: endpoints.ca, servername: 'localhost' }, () => resolve(socket))
      : net.connect(options, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends packets and returns the first packet the server answers with (or 'closed'). */
export async function exchange(stream: Duplex, packets: (Parameters<typeof mqttPacket.generate>[0] | Buffer)[]): Promise<Packet | 'closed'> {
  const parser = mqttPacket.parser();
  const answer = new Promise<Packet | 'closed'>((resolve) => {
    parser.once('packet', resolve);
    stream.once('close', () => resolve('closed'));
    stream.once('error', () => resolve('closed'));
  });
  stream.on('data', (chunk: Buffer) => parser.parse(chunk));
  for (const packet of packets) stream.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet));
  return answer;
}

/** A CONNECT built byte by byte [MQTT-3.1], for shapes the client libraries refuse to produce. */
export function rawConnect(fields: { clientId: string; clean: boolean; username: string; password: string }): Buffer {
  const string = (value: string) => {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const flags = 0x80 | 0x40 | (fields.clean ? 0x02 : 0);
  const body = Buffer.concat([string('MQTT'), Buffer.from([4, flags, 0, 30]), string(fields.clientId), string(fields.username), string(fields.password)]);
  return Buffer.concat([fixedHeader(0x10, body.length), body]);
}
