import { describe, expect, it } from 'vitest';
import { Fifo } from '../../src/broker/fifo.js';
import { createMessageEmitter } from '../../src/broker/message-emitter.js';

describe('Fifo', () => {
  it('keeps order across compactions', () => {
    const fifo = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      fifo.push(i);
      if (i % 3 === 0) out.push(fifo.shift()!);
    }
    while (fifo.length > 0) out.push(fifo.shift()!);
    expect(out).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
    expect(fifo.shift()).toBeUndefined();
  });
});

describe('the tenant message emitter', () => {
  it('delivers a backlog beyond its concurrency, in order', async () => {
    const emitter = createMessageEmitter(2) as unknown as { on(t: string, f: (p: { n: number }, cb: () => void) => void, done: () => void): void; emit(p: object, cb: () => void): void };
    const seen: number[] = [];
    await new Promise<void>((resolve) => emitter.on('a/#', (packet, cb) => { seen.push(packet.n); setImmediate(cb); }, resolve));
    await new Promise<void>((resolve) => {
      for (let n = 0; n < 1_000; n++) emitter.emit({ topic: 'a/b', n }, n === 999 ? resolve : () => undefined);
    });
    expect(seen).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  });
});
