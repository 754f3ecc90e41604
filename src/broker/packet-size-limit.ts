import type { Duplex } from 'node:stream';
import { CONNECT_TYPE, PacketBoundaries } from './fixed-header.js';

export type PacketSizeLimits = { maxPacketBytes: number; maxConnectBytes: number };

/**
 * Enforces MQTT_MAX_PACKET_BYTES on an admitted connection while it is read.
 *
 * aedes parses with its own mqtt-packet parser, which keeps a packet's bytes
 * until the whole packet has arrived and has no size limit in MQTT 3.1.1. So
 * the stream's `read` (what aedes and aedes-tuning/read-slicing.ts call) is wrapped: each
 * chunk's packet headers are followed (fixed-header.ts) before the parser
 * sees it, and the first packet declaring more than the limit closes the
 * connection with nothing of it buffered. MQTT 3.1.1 has no way to tell the
 * client; MQTT 5 would send DISCONNECT 0x95 [MQTT-3.2.2-15].
 *
 * Install before the stream's first read by the broker: the boundaries start
 * at the CONNECT put back by the front door, which was held to its own limit.
 */
export function limitPacketSizes(stream: Duplex, limits: PacketSizeLimits, onRefused: (verdict: 'too-large' | 'malformed', declared: number) => void): void {
  const { maxPacketBytes, maxConnectBytes } = limits;
  const boundaries = new PacketBoundaries((type) => (type === CONNECT_TYPE ? maxConnectBytes : maxPacketBytes));
  const read = stream.read;
  stream.read = function limitedRead(this: Duplex, size?: number) {
    const chunk = read.call(this, size) as Buffer | null;
    if (chunk === null || chunk.length === 0) return chunk;
    const verdict = boundaries.scan(chunk);
    if (verdict === 'ok') return chunk;
    onRefused(verdict, boundaries.declared);
    stream.destroy();
    return null;
  } as Duplex['read'];
}
