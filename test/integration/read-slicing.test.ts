import { Aedes, type Client } from 'aedes';
import mqtt from 'mqtt';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ReadScheduler } from '../../src/broker/aedes-tuning/read-slicing.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A connection read the way aedes 1.2 reads one: on 'readable' and after each
 * handled packet, `read()` then parse. Here every slice is one "packet",
 * handled at once (as QoS 0 telemetry is), so aedes asks for the next slice
 * from inside the parse.
 */
function aedesLikeClient(name: string, log: string[]) {
  const conn = new PassThrough({ highWaterMark: 1 << 20 });
  let depth = 0;
  const client = {
    conn,
    _parsingBatch: 1,
    _parser: {
      parse(buffer: Buffer) {
        depth++;
        log.push(`${name}:${buffer.length}${depth > 1 ? ' nested' : ''}`);
        client._parsingBatch++;
        client._nextBatch();
        depth--;
      },
    },
    _nextBatch() {
      client._parsingBatch--;
      if (client._parsingBatch <= 0) {
        client._parsingBatch = 0;
        const buffer = conn.read() as Buffer | null;
        if (buffer) client._parser.parse(buffer);
      }
    },
  };
  return { client, asAedes: client as unknown as Client };
}

async function untilQuiet(log: string[]): Promise<void> {
  let length = -1;
  while (length !== log.length) {
    length = log.length;
    for (let turn = 0; turn < 5; turn++) await nextTurn();
  }
}

describe('ReadScheduler', () => {
  it('hands a backlogged connection its bytes in slices, in order, never parsing inside a parse', async () => {
    const log: string[] = [];
    const { client, asAedes } = aedesLikeClient('a', log);
    new ReadScheduler(8_192, 1_000).slice(asAedes);
    client.conn.write(Buffer.alloc(40_000, 1));
    client._nextBatch();
    await untilQuiet(log);
    expect(log).toEqual(['a:8192', 'a:8192', 'a:8192', 'a:8192', 'a:7232']);
  });

  it('serves backlogged connections in turns once the budget is spent, and a light one at once', async () => {
    const log: string[] = [];
    const a = aedesLikeClient('a', log);
    const b = aedesLikeClient('b', log);
    const light = aedesLikeClient('light', log);
    const scheduler = new ReadScheduler(1_000, 0);
    [a, b, light].forEach(({ asAedes }) => scheduler.slice(asAedes));
    a.client.conn.write(Buffer.alloc(3_000));
    b.client.conn.write(Buffer.alloc(3_000));
    a.client._nextBatch();
    b.client._nextBatch();
    light.client.conn.write(Buffer.alloc(500));
    light.client._nextBatch();
    expect(log).toEqual(['light:500']);
    await untilQuiet(log);
    expect(log).toEqual(['light:500', 'a:1000', 'b:1000', 'a:1000', 'b:1000', 'a:1000', 'b:1000']);
  });

  it('keeps every message of several publishers, in order, through a real aedes', async () => {
    const broker = await Aedes.createBroker();
    const scheduler = new ReadScheduler(4_096, 1);
    const server = net.createServer((socket) => scheduler.slice(broker.handle(socket)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const seen: Record<string, number[]> = {};
    let count = 0;
    const total = 3 * 2_000 + 3;
    const all = new Promise<void>((resolve) => {
      broker.on('publish', (packet, client) => {
        if (!client) return;
        (seen[packet.topic] ??= []).push(packet.payload.length > 10_000 ? -1 : Number(packet.payload.toString()));
        if (++count === total) resolve();
      });
    });
    const publishers = await Promise.all([0, 1, 2].map(() => mqtt.connectAsync(url, { reconnectPeriod: 0 })));
    try {
      for (let n = 0; n < 2_000; n++) {
        publishers.forEach((publisher, index) => publisher.publish(`t/${index}`, String(n).padEnd(100), { qos: 0 }));
        // Packets larger than a slice arrive in several slices.
        if (n === 1_000) publishers.forEach((publisher, index) => publisher.publish(`t/${index}`, Buffer.alloc(20_000), { qos: 0 }));
      }
      await all;
      const expected = [...Array.from({ length: 1_001 }, (_, n) => n), -1, ...Array.from({ length: 999 }, (_, n) => n + 1_001)];
      expect(seen).toEqual({ 't/0': expected, 't/1': expected, 't/2': expected });
    } finally {
      await Promise.all(publishers.map((publisher) => publisher.endAsync(true)));
      await new Promise((resolve) => broker.close(() => server.close(resolve)));
    }
  });
});
