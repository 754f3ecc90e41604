import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
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

/** Lets in-flight packets arrive before asserting that nothing did. */
export const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

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
  const length: number[] = [];
  let remaining = body.length;
  do {
    let byte = remaining % 128;
    remaining = Math.floor(remaining / 128);
    if (remaining > 0) byte |= 0x80;
    length.push(byte);
  } while (remaining > 0);
  return Buffer.concat([Buffer.from([0x10, ...length]), body]);
}
