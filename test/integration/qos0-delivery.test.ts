import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { batchQos0Deliveries } from '../../src/broker/aedes-tuning/qos0-delivery.js';
import { coalesceWrites } from '../../src/write-coalescing.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** An in-memory aedes whose connections are set up as Gatehouse sets up its own. */
async function brokerWithBatchedDelivery(): Promise<{ broker: Aedes; url: string }> {
  const broker = await Aedes.createBroker({ concurrency: 100 });
  const server = net.createServer((socket) => {
    coalesceWrites(socket);
    batchQos0Deliveries(broker.handle(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => broker.close(() => server.close(resolve))));
  return { broker, url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function connect(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

describe('batchQos0Deliveries', () => {
  it('delivers every message of many publishers to one subscriber, each publisher in order', async () => {
    const { url } = await brokerWithBatchedDelivery();
    const subscriber = await connect(url);
    const received: Record<string, number[]> = {};
    let count = 0;
    const all = new Promise<void>((resolve) => {
      subscriber.on('message', (topic, payload) => {
        (received[topic] ??= []).push(Number(payload.toString().trim()));
        if (++count === 3 * 1_000) resolve();
      });
    });
    await subscriber.subscribeAsync('devices/+/telemetry', { qos: 0 });
    const publishers = await Promise.all([0, 1, 2].map(() => connect(url)));
    for (let n = 0; n < 1_000; n++) {
      publishers.forEach((publisher, index) => publisher.publish(`devices/d${index}/telemetry`, String(n).padEnd(100), { qos: 0 }));
    }
    await all;
    const inOrder = Array.from({ length: 1_000 }, (_, n) => n);
    expect(received).toEqual({ 'devices/d0/telemetry': inOrder, 'devices/d1/telemetry': inOrder, 'devices/d2/telemetry': inOrder });
  });

  it('sets RETAIN 1 only on a retained message sent to a new subscription [MQTT-3.3.1-8, MQTT-3.3.1-9]', async () => {
    const { url } = await brokerWithBatchedDelivery();
    const publisher = await connect(url);
    const live = await connect(url);
    const liveMessage = new Promise<boolean>((resolve) => live.on('message', (_topic, _payload, packet) => resolve(packet.retain)));
    await live.subscribeAsync('devices/d0/state', { qos: 0 });
    await publisher.publishAsync('devices/d0/state', '{"on":true}', { qos: 1, retain: true });
    expect(await liveMessage).toBe(false);

    const late = await connect(url);
    const retained = new Promise<{ payload: string; retain: boolean }>((resolve) => late.on('message', (_topic, payload, packet) => resolve({ payload: payload.toString(), retain: packet.retain })));
    await late.subscribeAsync('devices/d0/state', { qos: 0 });
    expect(await retained).toEqual({ payload: '{"on":true}', retain: true });
  });

  it('holds the completions of a full connection until it drains, then runs them all', async () => {
    const written: Buffer[] = [];
    let finishWrite: (() => void) | undefined;
    const conn = new Duplex({
      highWaterMark: 64,
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk);
        finishWrite = callback; // the peer is slow: nothing drains until it reads
      },
    });
    const fakeClient = {
      id: 'subscriber', conn, connecting: false, connected: true, duplicates: {},
      broker: { authorizeForward: (_client: unknown, packet: unknown) => packet },
      deliver0: (_packet: AedesPublishPacket, _done: () => void): void => undefined,
      waitForDrain: (done: () => void) => conn.once('drain', done),
      _onError: () => undefined,
    };
    batchQos0Deliveries(fakeClient as unknown as Client);
    let completed = 0;
    for (let n = 0; n < 10; n++) {
      fakeClient.deliver0({ cmd: 'publish', topic: 't', payload: Buffer.alloc(20), qos: 0, retain: false, dup: false } as AedesPublishPacket, () => completed++);
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(completed).toBe(0);
    while (finishWrite) {
      const finish = finishWrite;
      finishWrite = undefined;
      finish();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(completed).toBe(10);
    expect(written).toHaveLength(10);
    expect(written[0]!.subarray(0, 4)).toEqual(Buffer.from([0x30, 23, 0, 1]));
  });

  it('refuses to install over an aedes whose client no longer looks as expected', () => {
    expect(() => batchQos0Deliveries({ deliver0: () => undefined } as unknown as Client)).toThrow(/aedes client internals changed/);
  });
});
