import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../../src/write-coalescing.js';

/** A duplex that records each batch its writable side is asked to send. */
function recordingStream() {
  const batches: string[][] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      batches.push([chunk.toString()]);
      callback();
    },
    writev(chunks, callback) {
      batches.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      callback();
    },
  });
  return { stream, batches };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesceWrites', () => {
  it('sends the writes of one event-loop turn together, in order, and the next turn on its own', async () => {
    const { stream, batches } = recordingStream();
    coalesceWrites(stream);
    stream.write('a');
    stream.write('b');
    process.nextTick(() => stream.write('c'));
    expect(batches).toEqual([]);
    await nextTurn();
    expect(batches).toEqual([['a', 'b', 'c']]);
    stream.write('d');
    await nextTurn();
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('ending the stream sends what the turn held, then the last chunk', async () => {
    const { stream, batches } = recordingStream();
    coalesceWrites(stream);
    stream.write('x');
    stream.end('y');
    await nextTurn();
    expect(batches.flat()).toEqual(['x', 'y']);
  });
});
