import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { CONNECT_TYPE, decodeFixedHeader } from './fixed-header.js';

export type ConnectRead =
  | { state: 'more' }
  | { state: 'refused'; reason: 'not-connect' | 'too-large' | 'malformed'; declared?: number }
  | { state: 'complete'; connect: Buffer; rest: Buffer };

/**
 * Gathers an unauthenticated connection's CONNECT with bounded memory.
 *
 * The fixed header is decoded as soon as its bytes arrive; a CONNECT
 * declaring more than `maxBytes` is refused before its body is read. Below
 * that, the packet is copied once into a buffer of exactly its declared size
 * (never more than `maxBytes`); bytes after it in the last chunk are kept as
 * `rest` for the tenant broker, which reads the remainder from the stream.
 */
export class ConnectReader {
  /** Bytes before the fixed header was complete (at most five that matter). */
  private head: Buffer | undefined;
  private packet: Buffer | undefined;
  private filled = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): ConnectRead {
    if (this.packet) return this.fill(chunk);
    const bytes = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    // The first packet a client sends must be a CONNECT [MQTT-3.1.0-1]: known from its first byte.
    if (bytes.length > 0 && bytes[0]! >> 4 !== CONNECT_TYPE) return { state: 'refused', reason: 'not-connect' };
    const header = decodeFixedHeader(bytes);
    if (header === 'malformed') return { state: 'refused', reason: 'malformed' };
    if (header === 'incomplete') {
      this.head = bytes;
      return { state: 'more' };
    }
    if (header.total > this.maxBytes) return { state: 'refused', reason: 'too-large', declared: header.total };
    this.head = undefined;
    this.packet = Buffer.allocUnsafe(header.total);
    return this.fill(bytes);
  }

  private fill(chunk: Buffer): ConnectRead {
    const packet = this.packet!;
    const take = Math.min(packet.length - this.filled, chunk.length);
    chunk.copy(packet, this.filled, 0, take);
    this.filled += take;
    if (this.filled < packet.length) return { state: 'more' };
    return { state: 'complete', connect: packet, rest: chunk.subarray(take) };
  }
}

/** The CONNECT in exactly its bytes, decoded by mqtt-packet; undefined if they are not a valid one. */
export function decodeConnect(bytes: Buffer): IConnectPacket | undefined {
  const parser = mqttPacket.parser();
  let packet: Packet | undefined;
  parser.on('packet', (decoded: Packet) => (packet ??= decoded));
  parser.on('error', () => undefined);
  parser.parse(bytes);
  return packet?.cmd === 'connect' ? packet : undefined;
}
