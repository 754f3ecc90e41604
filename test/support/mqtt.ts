import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

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
