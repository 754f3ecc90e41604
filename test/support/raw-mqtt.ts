import type { Duplex } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';

/** The remaining length as an MQTT variable byte integer [MQTT-2.2.3]. */
export function varint(value: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Buffer.from(bytes);
}

/** A fixed header declaring `remaining` bytes after it. */
export function fixedHeader(firstByte: number, remaining: number): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), varint(remaining)]);
}

/** A generated packet with the bytes of `marker` (same length) replaced: ill-formed UTF-8 that no encoder produces. */
export function patchBytes(packet: Buffer, marker: string, bytes: number[]): Buffer {
  const at = packet.indexOf(marker);
  if (at < 0 || bytes.length !== Buffer.byteLength(marker)) throw new Error('marker not found');
  const copy = Buffer.from(packet);
  Buffer.from(bytes).copy(copy, at);
  return copy;
}

let gcFunction: (() => void) | undefined;

/** A full garbage collection (exposed at run time: vitest's workers are not started with --expose-gc). */
export function collectGarbage(): void {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as () => void;
  }
  gcFunction();
  gcFunction();
}

/** Heap and Buffer memory of this process (the gateway runs in it), after a full collection. */
export function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Writes `header`, then up to `total` bytes in 64 KiB chunks while the peer keeps the connection open. */
export async function streamUntilClosed(stream: Duplex, header: Buffer, total: number): Promise<{ written: number; closed: boolean }> {
  let closed = false;
  const whenClosed = new Promise<void>((resolve) => stream.once('close', () => {
    closed = true;
    resolve();
  }));
  stream.on('error', () => undefined);
  stream.write(header);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  while (!closed && written < total) {
    const flushed = stream.write(chunk);
    written += chunk.length;
    if (!flushed) await Promise.race([new Promise((resolve) => stream.once('drain', resolve)), whenClosed]);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.race([whenClosed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  return { written, closed };
}
