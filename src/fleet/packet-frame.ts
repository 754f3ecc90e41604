/**
 * A message as a tenant's aedes emits it (aedes-packet's fields): what must
 * reach the tenant's subscribers on another node unchanged. `brokerId` and
 * `brokerCounter` are aedes's duplicate filter and the key its persistence
 * finds a queued QoS 1/2 message by (outgoingUpdate); `clientId` and `nl` are
 * MQTT 5 no-local; `properties` and `messageExpiry` are MQTT 5 too. The
 * `messageId` is not sent: it belongs to one connection, and each node's
 * client allocates its own [MQTT-2.3.1-1].
 */
export type EmittedPacket = {
  cmd?: string;
  topic: string;
  payload: Buffer | string;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
  nl?: boolean;
  properties?: Record<string, unknown>;
  messageExpiry?: number;
  messageId?: number;
};

/** The node id's length in a frame: 8 random bytes, enough for a fleet (collision odds of 2^-64 per pair). */
export const NODE_ID_BYTES = 8;

const VERSION = 1;
const RETAIN = 0b0000_0100;
const DUP = 0b0000_1000;
const BROKER = 0b0001_0000;
const CLIENT = 0b0010_0000;
const NO_LOCAL = 0b0100_0000;
const EXTRAS = 0b1000_0000;
const HEADER = 1 + NODE_ID_BYTES + 1;

/**
 * One emitted packet on the wire between nodes, compact and without a
 * serializer per message (a telemetry frame is its topic, its payload and
 * about 60 bytes):
 *
 *   version (1) | node id (8) | flags (1: qos in bits 0-1, retain, dup, has broker, has client id, no-local, has extras)
 *   | [broker counter (float64) | broker id (u16 length + UTF-8)] | topic (u16 length + UTF-8)
 *   | [client id (u16 length + UTF-8)] | [extras (u32 length + JSON: MQTT 5 properties, messageExpiry)] | payload (the rest)
 *
 * The node id lets a node skip its own frames when Redis echoes them back: it
 * has already delivered them locally.
 */
export function encodeFrame(nodeId: Buffer, packet: EmittedPacket): Buffer {
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : (packet.payload ?? Buffer.alloc(0));
  const topicLength = Buffer.byteLength(packet.topic);
  const hasBroker = packet.brokerId !== undefined;
  const brokerLength = hasBroker ? Buffer.byteLength(packet.brokerId!) : 0;
  const hasClient = packet.clientId !== undefined;
  const clientLength = hasClient ? Buffer.byteLength(packet.clientId!) : 0;
  const extras = extrasOf(packet);
  const extrasLength = extras === undefined ? 0 : Buffer.byteLength(extras);
  const size = HEADER + (hasBroker ? 8 + 2 + brokerLength : 0) + 2 + topicLength + (hasClient ? 2 + clientLength : 0) + (extras === undefined ? 0 : 4 + extrasLength) + payload.length;
  const frame = Buffer.allocUnsafe(size);
  frame[0] = VERSION;
  nodeId.copy(frame, 1, 0, NODE_ID_BYTES);
  frame[HEADER - 1] = ((packet.qos ?? 0) & 0b11) | (packet.retain ? RETAIN : 0) | (packet.dup ? DUP : 0) | (hasBroker ? BROKER : 0) | (hasClient ? CLIENT : 0) |
    (packet.nl ? NO_LOCAL : 0) | (extras === undefined ? 0 : EXTRAS);
  let at = HEADER;
  if (hasBroker) {
    at = frame.writeDoubleBE(packet.brokerCounter ?? 0, at);
    at = writeString(frame, at, packet.brokerId!, brokerLength);
  }
  at = writeString(frame, at, packet.topic, topicLength);
  if (hasClient) at = writeString(frame, at, packet.clientId!, clientLength);
  if (extras !== undefined) {
    at = frame.writeUInt32BE(extrasLength, at);
    at += frame.write(extras, at);
  }
  payload.copy(frame, at);
  return frame;
}

/** Whether the frame was sent by this node (its own echo). */
export function sentBy(frame: Buffer, nodeId: Buffer): boolean {
  return frame.length >= HEADER && frame.compare(nodeId, 0, NODE_ID_BYTES, 1, 1 + NODE_ID_BYTES) === 0;
}

/** The packet a frame carries; throws on a frame this version cannot read. */
export function decodeFrame(frame: Buffer): EmittedPacket {
  if (frame.length < HEADER || frame[0] !== VERSION) throw new Error(`not a version ${VERSION} packet frame`);
  const flags = frame[HEADER - 1]!;
  const packet: EmittedPacket = { cmd: 'publish', topic: '', payload: EMPTY, qos: flags & 0b11, retain: (flags & RETAIN) !== 0, dup: (flags & DUP) !== 0 };
  let at = HEADER;
  if (flags & BROKER) {
    packet.brokerCounter = frame.readDoubleBE(at);
    [packet.brokerId, at] = readString(frame, at + 8);
  }
  [packet.topic, at] = readString(frame, at);
  if (flags & CLIENT) [packet.clientId, at] = readString(frame, at);
  if (flags & NO_LOCAL) packet.nl = true;
  if (flags & EXTRAS) {
    const length = frame.readUInt32BE(at);
    const extras = JSON.parse(frame.toString('utf8', at + 4, at + 4 + length), reviveBuffers) as Pick<EmittedPacket, 'properties' | 'messageExpiry'>;
    if (extras.properties !== undefined) packet.properties = extras.properties;
    if (extras.messageExpiry !== undefined) packet.messageExpiry = extras.messageExpiry;
    at += 4 + length;
  }
  if (at > frame.length) throw new Error('truncated packet frame');
  packet.payload = frame.subarray(at);
  return packet;
}

const EMPTY = Buffer.alloc(0);

function writeString(frame: Buffer, at: number, value: string, length: number): number {
  if (length > 0xffff) throw new Error('a topic, broker id or client id longer than 65535 bytes cannot be framed');
  at = frame.writeUInt16BE(length, at);
  return at + frame.write(value, at);
}

function readString(frame: Buffer, at: number): [string, number] {
  const length = frame.readUInt16BE(at);
  const end = at + 2 + length;
  if (end > frame.length) throw new Error('truncated packet frame');
  return [frame.toString('utf8', at + 2, end), end];
}

/** MQTT 5's rare parts, as JSON (Buffers, e.g. correlationData, as Node writes them: { type: 'Buffer', data }). */
function extrasOf(packet: EmittedPacket): string | undefined {
  if (packet.properties === undefined && packet.messageExpiry === undefined) return undefined;
  return JSON.stringify({ properties: packet.properties, messageExpiry: packet.messageExpiry });
}

function reviveBuffers(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data);
  }
  return value;
}
