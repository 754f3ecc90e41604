import mqttPacket, { type Packet } from 'mqtt-packet';
import { varint } from './raw-mqtt.js';

/** mulberry32: a small seeded PRNG, so that a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = ReturnType<typeof prng>;

const int = (random: Random, n: number) => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)]!;

type Generated = Parameters<typeof mqttPacket.generate>[0];

/**
 * Valid packets of every MQTT 3.1.1 and 5 type, for a device named `device`:
 * its own topics, others', wildcards, $-topics, every QoS and flag.
 */
export function validPackets(device: { name: string; username: string; password: string }): Buffer[] {
  const own = `devices/${device.name}`;
  const topics = [`${own}/telemetry`, `${own}/telemetry/s`, `${own}/state`, `${own}/events/e`, `${own}/commands/c1/result`, 'devices/other/telemetry', '$SYS/x', 'a/b'];
  const filters = [`${own}/commands/+`, `${own}/#`, '#', 'devices/+/telemetry', '$share/g/a', '$SYS/#', 'a/+/c'];
  const packets: Generated[] = [];
  for (const protocolVersion of [4, 5] as const) {
    const v5 = protocolVersion === 5;
    packets.push(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 30, clientId: 'fuzz', username: device.username },
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: false, keepalive: 0, clientId: 'fuzz-persistent', will: { topic: `${own}/events/will`, payload: Buffer.from('bye'), qos: 1, retain: false } },
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: 'fuzz-jwt', username: device.username, password: Buffer.from('eyJa.eyJb.c2ln') },
      { cmd: 'connack', returnCode: 0, sessionPresent: false, ...(v5 ? { reasonCode: 0 } : {}) },
      { cmd: 'puback', messageId: 1 }, { cmd: 'pubrec', messageId: 2 }, { cmd: 'pubrel', messageId: 2 }, { cmd: 'pubcomp', messageId: 2 },
      { cmd: 'suback', messageId: 3, granted: [0, 1, 128] }, { cmd: 'unsuback', messageId: 4, granted: [] },
      { cmd: 'pingreq' }, { cmd: 'pingresp' }, { cmd: 'disconnect' },
    );
    for (const [i, topic] of topics.entries()) {
      for (const qos of [0, 1, 2] as const) {
        const payload = i % 2 ? Buffer.from(JSON.stringify({ t: i, q: qos })) : Buffer.from([0, 1, 2, 0xff]);
        packets.push({ cmd: 'publish', topic, payload, qos, retain: false, dup: false, ...(qos > 0 ? { messageId: 10 + i * 3 + qos } : {}) });
      }
    }
    packets.push({ cmd: 'subscribe', messageId: 5, subscriptions: filters.map((topic, i) => ({ topic, qos: (i % 3) as 0 | 1 | 2 })) });
    for (const topic of filters) packets.push({ cmd: 'subscribe', messageId: 6, subscriptions: [{ topic, qos: 1 }] }, { cmd: 'unsubscribe', messageId: 7, unsubscriptions: [topic] });
    if (v5) packets.push({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'x' } });
  }
  return packets.map((packet) => {
    const protocolVersion = 'protocolVersion' in packet ? packet.protocolVersion : 'reasonCode' in packet || 'properties' in packet ? 5 : 4;
    return mqttPacket.generate(packet, { protocolVersion });
  });
}

/** Where the remaining length ends: 1 + its byte count. */
function bodyStart(packet: Buffer): number {
  let i = 1;
  while (i < packet.length && i < 5 && (packet[i]! & 0x80) !== 0) i++;
  return Math.min(i + 1, packet.length);
}

/** One packet, broken one of the ways a fuzzer breaks them. */
export function mutate(random: Random, packet: Buffer): Buffer {
  const copy = Buffer.from(packet);
  switch (int(random, 7)) {
    case 0: // bit flips anywhere
      for (let n = 1 + int(random, 4); n > 0; n--) copy[int(random, copy.length)]! ^= 1 << int(random, 8);
      return copy;
    case 1: // truncated
      return copy.subarray(0, int(random, copy.length));
    case 2: { // remaining length replaced: too short, too long, huge, or five bytes
      const body = copy.subarray(bodyStart(copy));
      const lengths = [body.length + 1 + int(random, 100), Math.max(0, body.length - 1 - int(random, 5)), 268_435_455, int(random, 1 << 21)];
      const length = random() < 0.1 ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]) : varint(pick(random, lengths));
      return Buffer.concat([copy.subarray(0, 1), length, body]);
    }
    case 3: // the first byte (type and flags) replaced
      copy[0] = int(random, 256);
      return copy;
    case 4: { // bytes inserted or deleted inside the body
      const at = bodyStart(copy) + int(random, Math.max(1, copy.length - bodyStart(copy)));
      return random() < 0.5
        ? Buffer.concat([copy.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(random, 8) }, () => int(random, 256))), copy.subarray(at)])
        : Buffer.concat([copy.subarray(0, at), copy.subarray(at + 1 + int(random, 4))]);
    }
    case 5: // the body's bytes flipped only (strings: NUL, ill-formed UTF-8, bad lengths)
      for (let n = 1 + int(random, 3), start = bodyStart(copy); n > 0 && start < copy.length; n--) copy[start + int(random, copy.length - start)]! ^= 1 << int(random, 8);
      return copy;
    default: // random bytes of the packet's length
      return Buffer.from(Array.from({ length: copy.length }, () => int(random, 256)));
  }
}

/** `count` packets from `corpus`, each mutated, sometimes two run together, as one buffer for one write. */
export function mutatedBatch(random: Random, corpus: Buffer[], count: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const packet = mutate(random, pick(random, corpus));
    // Concatenation: a mutated packet glued to a valid one, without a boundary between them.
    parts.push(random() < 0.1 ? Buffer.concat([packet, pick(random, corpus)]) : packet);
  }
  return Buffer.concat(parts);
}

/**
 * Whether the first packet of `bytes` is a CONNECT with a wrong password: the
 * gateway would run argon2 for it (25 ms of CPU each, by design) and count a
 * failure against the address, which locks it out after 50. The fuzz before
 * CONNECT leaves those out: they test the password hash and the lockout, not
 * the parser. `allowed` names the one real pair.
 */
export function costsArgon2(bytes: Buffer, allowed: { username: string; password: string }): boolean {
  const parser = mqttPacket.parser();
  let packet: Packet | undefined;
  parser.on('packet', (decoded: Packet) => (packet ??= decoded));
  parser.on('error', () => undefined);
  parser.parse(bytes);
  if (packet?.cmd !== 'connect' || !packet.password?.length) return false;
  const password = packet.password.toString('utf8');
  // Shaped like a JWT (the gateway's own test): verified as a token, never against a password hash.
  if (/^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(password)) return false;
  return packet.username !== allowed.username || password !== allowed.password;
}

/** A packet and the byte range that any value may fill without breaking its framing (payload, packet id). */
export type Framed = { bytes: Buffer; free: [number, number] };

/**
 * What a logged-in 3.1.1 device sends, as packets whose fields can be
 * mutated while the packet stays well framed: PUBLISH payloads (JSON and
 * binary, own topics and others'), packet ids of acknowledgements,
 * SUBSCRIBE and UNSUBSCRIBE. These reach aedes's handlers and the hooks,
 * where a framing error would only reach the parser.
 */
export function framedPackets(device: { name: string }): Framed[] {
  const own = `devices/${device.name}`;
  const framed: Framed[] = [];
  const topics = [`${own}/telemetry`, `${own}/telemetry/s`, `${own}/state`, `${own}/events/e`, `${own}/commands/c1/result`, 'devices/other/telemetry'];
  for (const topic of topics) {
    for (const qos of [0, 1, 2] as const) {
      for (const retain of [false, true]) {
        const payload = Buffer.from(JSON.stringify({ temperature: 21.5, topic, qos }));
        const bytes = mqttPacket.generate({ cmd: 'publish', topic, payload, qos, retain, dup: false, ...(qos > 0 ? { messageId: 1 + qos } : {}) });
        framed.push({ bytes, free: [bytes.length - payload.length - (qos > 0 ? 2 : 0), bytes.length] });
      }
    }
  }
  const withId: Generated[] = [
    { cmd: 'puback', messageId: 1 }, { cmd: 'pubrec', messageId: 2 }, { cmd: 'pubrel', messageId: 2 }, { cmd: 'pubcomp', messageId: 2 },
    { cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: `${own}/commands/+`, qos: 1 }] },
    { cmd: 'subscribe', messageId: 6, subscriptions: [{ topic: 'devices/+/telemetry', qos: 0 }, { topic: `${own}/#`, qos: 2 }] },
    { cmd: 'unsubscribe', messageId: 7, unsubscriptions: [`${own}/commands/+`] },
  ];
  for (const packet of withId) {
    const bytes = mqttPacket.generate(packet);
    framed.push({ bytes, free: [bodyStart(bytes), bodyStart(bytes) + 2] });
  }
  return framed;
}

/** A well-framed packet with 1–4 random bytes of its free range changed. */
export function mutateFields(random: Random, packet: Framed): Buffer {
  const copy = Buffer.from(packet.bytes);
  const [start, end] = packet.free;
  for (let n = 1 + int(random, 4); n > 0; n--) copy[start + int(random, end - start)] = int(random, 256);
  return copy;
}
