/** A CONNECT's packet type, the high nibble of its first byte [MQTT-2.2.1]. */
export const CONNECT_TYPE = 1;

/** The remaining length is at most four bytes long [MQTT-2.2.3]. */
const MAX_LENGTH_BYTES = 4;

export type FixedHeader = { type: number; headerBytes: number; total: number };

/**
 * Decodes the fixed header at the start of `bytes`: the packet type and the
 * whole packet's declared size (header included), from the remaining length's
 * variable byte integer [MQTT-2.2.3]. 'incomplete' until its last length byte
 * has arrived; 'malformed' for a fifth continuation byte.
 */
export function decodeFixedHeader(bytes: Buffer): FixedHeader | 'incomplete' | 'malformed' {
  let length = 0;
  let multiplier = 1;
  for (let i = 1; i <= MAX_LENGTH_BYTES; i++) {
    if (i >= bytes.length) return 'incomplete';
    const byte = bytes[i]!;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { type: bytes[0]! >> 4, headerBytes: i + 1, total: i + 1 + length };
    multiplier *= 128;
  }
  return 'malformed';
}

/**
 * Follows packet boundaries on a connection's bytes as they are read: each
 * packet's fixed header is decoded and its body skipped by arithmetic, so
 * the cost is a few operations per packet whatever its payload.
 *
 * A packet is judged as soon as its remaining length is known, before its
 * body has arrived: that is what keeps a 256 MiB declaration from being
 * buffered by the parser behind it.
 */
export class PacketBoundaries {
  /** Bytes of the current packet's body still to come. */
  private skip = 0;
  /** Fixed-header bytes seen of the current packet; 0 at a packet boundary. */
  private headerBytes = 0;
  private type = 0;
  private length = 0;
  private multiplier = 1;
  /** The whole size declared by the last packet whose header was read. */
  declared = 0;

  /** `limitFor(type)`: the largest whole packet (fixed header included) of that type. */
  constructor(private readonly limitFor: (type: number) => number) {}

  /** Feeds the connection's bytes in order; 'ok' while every packet is within its limit. */
  scan(chunk: Buffer): 'ok' | 'too-large' | 'malformed' {
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, end - i);
        this.skip -= take;
        i += take;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.headerBytes === 0) {
        this.type = byte >> 4;
        this.headerBytes = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.headerBytes++;
      if (byte & 0x80) {
        if (this.headerBytes > MAX_LENGTH_BYTES) return 'malformed';
        this.multiplier *= 128;
        continue;
      }
      this.declared = this.headerBytes + this.length;
      if (this.declared > this.limitFor(this.type)) return 'too-large';
      this.skip = this.length;
      this.headerBytes = 0;
    }
    return 'ok';
  }
}
