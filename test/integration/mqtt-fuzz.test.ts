import mqttPacket from 'mqtt-packet';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { connect, exchange, rawConnect, rawStream, type Transport } from '../support/mqtt.js';
import { costsArgon2, framedPackets, mutate, mutatedBatch, mutateFields, prng, validPackets, type Framed, type Random } from '../support/mqtt-fuzz.js';
import { liveBytes } from '../support/raw-mqtt.js';

const MiB = 1024 * 1024;
/** Set FUZZ_SEED to replay a run; the seed is printed either way. */
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
/**
 * Sessions per transport and mutated packets per session (one write each).
 * After CONNECT, most are well framed with mutated fields, so that they reach
 * aedes's handlers and the hooks; the last few break the framing.
 */
const PLAN = { before: { sessions: 300, packets: 40 }, after: { sessions: 200, fields: 180, framing: 20 } };
const CONCURRENCY = 16;
const PINGREQ = mqttPacket.generate({ cmd: 'pingreq' });

/** Resolves when the stream closes (the gateway gave up on it, or it was done and the half-close came back). */
const closeOf = (stream: Duplex) => new Promise<void>((resolve) => {
  if (stream.destroyed) return resolve();
  stream.once('close', () => resolve());
  stream.on('error', () => undefined);
  stream.resume(); // answers are read and dropped: an unread FIN would never surface as 'close'
});

/**
 * A protocol fuzz against one real gateway: packets of every type from
 * mqtt-packet, mutated (bit flips, truncation, corrupt lengths, foreign first
 * bytes, inserted and deleted bytes, random bytes, concatenations), many per
 * write, over TCP and WebSocket, before CONNECT and after a real device's
 * CONNECT. Afterwards the gateway must still serve, and hold no more memory.
 */
describe('MQTT protocol fuzz', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let device: Credential;
  let corpus: Buffer[];
  let connects: Buffer[];
  let framed: Framed[];
  const sent = { before: 0, after: 0, sessions: 0, connacked: 0 };

  beforeAll(async () => {
    gw = await startBrokerGateway({ MQTT_MAX_PACKET_BYTES: String(MiB) });
    await gw.tenant('fuzz');
    device = await gw.device('fuzz', 'target');
    corpus = validPackets({ name: 'target', ...device });
    framed = framedPackets({ name: 'target' });
    connects = [...corpus.filter((packet) => packet[0] === 0x10), rawConnect({ clientId: 'fuzz-real', clean: true, username: device.username, password: device.password })];
  });
  afterAll(() => gw?.close());

  /** Before CONNECT: a mutated CONNECT (or anything) first, then a batch, then a half-close. */
  async function before(random: Random, transport: Transport): Promise<void> {
    // Checked on the whole write: a truncated CONNECT is completed by the bytes after it.
    let bytes: Buffer;
    do {
      const first = mutate(random, random() < 0.8 ? connects[Math.floor(random() * connects.length)]! : corpus[Math.floor(random() * corpus.length)]!);
      bytes = Buffer.concat([first, mutatedBatch(random, corpus, PLAN.before.packets - 1)]);
    } while (costsArgon2(bytes, device));
    const stream = await rawStream(gw.endpoints, transport);
    const closed = closeOf(stream);
    stream.write(bytes);
    stream.end();
    sent.before += PLAN.before.packets;
    await closed;
  }

  /** After a real device's CONNECT: one write of mutated packets and a PINGREQ, then a half-close. */
  async function after(random: Random, transport: Transport, n: string): Promise<void> {
    const stream = await rawStream(gw.endpoints, transport);
    const closed = closeOf(stream);
    const answer = await exchange(stream, [rawConnect({ clientId: `fuzz-${transport}-${n}`, clean: true, username: device.username, password: device.password })]);
    if (answer !== 'closed' && answer.cmd === 'connack' && answer.returnCode === 0) sent.connacked++;
    const fields = Array.from({ length: PLAN.after.fields }, () => mutateFields(random, framed[Math.floor(random() * framed.length)]!));
    stream.write(Buffer.concat([...fields, mutatedBatch(random, corpus, PLAN.after.framing), PINGREQ]));
    stream.end();
    sent.after += PLAN.after.fields + PLAN.after.framing;
    await closed;
  }

  async function run(jobs: (() => Promise<void>)[]): Promise<void> {
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }));
    sent.sessions += jobs.length;
  }

  /** Each connection draws from its own generator, so its bytes depend on the seed alone, not on timing. */
  const randomFor = (label: string) => prng(SEED ^ [...label].reduce((hash, c) => Math.imul(hash ^ c.charCodeAt(0), 16_777_619), 2_166_136_261));

  /** A legitimate MQTT.js client connects, publishes QoS 1 telemetry and is acknowledged: the gateway serves. */
  async function stillServes(transport: Transport, label: string): Promise<void> {
    const client = await connect(gw.endpoints[transport]!, { username: device.username, password: device.password, clientId: `legit-${label}` });
    // MQTT.js settles a QoS 1 publish on its PUBACK.
    await client.publishAsync('devices/target/telemetry', JSON.stringify({ legit: label }), { qos: 1 });
    await client.endAsync();
  }

  it('never crashes the gateway, and memory comes back', async () => {
    console.log(`mqtt fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
    const jobs = (transport: Transport, round: string) => [
      ...Array.from({ length: PLAN.before.sessions }, (_, n) => () => before(randomFor(`${round}/${transport}/before/${n}`), transport)),
      ...Array.from({ length: PLAN.after.sessions }, (_, n) => () => after(randomFor(`${round}/${transport}/after/${n}`), transport, `${round}-${n}`)),
    ];
    // A warm-up round first (its packets count too): what is made once (the tenant broker, caches, pools,
    // compiled code) is not growth. Measured: one round adds ~2 MiB, five rounds add no more than one.
    for (const transport of ['tcp', 'ws'] as const) await run(jobs(transport, 'warm').filter((_, i) => i % 2 === 0));
    await stillServes('tcp', 'warm');
    const start = { live: liveBytes(), rss: process.memoryUsage().rss };

    for (const transport of ['tcp', 'ws'] as const) await run(jobs(transport, 'main'));

    await stillServes('tcp', 'after-tcp');
    await stillServes('ws', 'after-ws');
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    const end = { live: liveBytes(), rss: process.memoryUsage().rss };
    const total = sent.before + sent.after;
    const metrics = await (await fetch(`${gw.base}/metrics`)).text();
    const seen = (name: string) => [...metrics.matchAll(new RegExp(`^gatehouse_mqtt_${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
    console.log(`mqtt fuzz: ${total} mutated packets (${sent.before} before CONNECT, ${sent.after} after) in ${sent.sessions} connections, ` +
      `${sent.connacked} logged in; the gateway counted ${seen('messages_in_total')} PUBLISH, ${seen('publishes_refused_total')} refused, ` +
      `${seen('malformed_total')} malformed, ${seen('packets_too_large_total')} too large, ${seen('connects_refused_total')} CONNECTs refused; heap+buffers ${((end.live - start.live) / MiB).toFixed(2)} MiB, rss ${((end.rss - start.rss) / MiB).toFixed(1)} MiB (seed ${SEED})`);
    expect(total, `seed ${SEED}`).toBeGreaterThanOrEqual(100_000);
    expect(sent.connacked, `seed ${SEED}`).toBeGreaterThan(PLAN.after.sessions);
    expect(end.live - start.live, `heap+buffers growth, seed ${SEED}`).toBeLessThan(4 * MiB);
  }, 120_000);
});
