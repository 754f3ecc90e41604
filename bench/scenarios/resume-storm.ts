import mqtt, { type MqttClient } from 'mqtt';
import { now } from '../load/spec.js';
import type { Target } from '../targets/targets.js';
import { measured, measuredFields, type Result } from './broker-scenarios.js';

const CONCURRENCY = 200;
const TIMEOUT_MS = 30_000;

type Resumed = { sessionPresent: boolean; waitedMs: number } | { failed: string };

/** Runs `job` for 0…count-1, `CONCURRENCY` at a time. */
async function inBatches<T>(count: number, job: (n: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
    while (next < count) {
      const n = next++;
      out[n] = await job(n);
    }
  }));
  return out;
}

/** A persistent session's reconnect: its CONNACK's session flag, then its first message (the one queued while it was away). */
function resume(url: string, credential: Target['watcher'], clientId: string): Promise<Resumed> {
  const startedAt = now();
  const client: MqttClient = mqtt.connect(url, { ...credential, clientId, clean: false, reconnectPeriod: 0, connectTimeout: TIMEOUT_MS, protocolVersion: 4 });
  return new Promise<Resumed>((resolve) => {
    let sessionPresent = false;
    const timer = setTimeout(() => resolve({ failed: 'no queued message within 30 s' }), TIMEOUT_MS);
    // Read as the CONNACK is received: MQTT.js emits 'connect' only after resending its own stored packets,
    // so a message queued for the session can come before it.
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'connack') sessionPresent = packet.sessionPresent;
    });
    client.once('message', () => {
      clearTimeout(timer);
      resolve({ sessionPresent, waitedMs: now() - startedAt });
    });
    client.once('error', (error) => {
      clearTimeout(timer);
      resolve({ failed: error.message });
    });
  }).finally(() => client.end(true));
}

const percentile = (sorted: number[], p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0) * 1000) / 1000;

/**
 * Reconnect-and-resume storm: `sessions` persistent sessions subscribe on the
 * publishers' node and leave (DISCONNECT); one QoS 1 message is queued for
 * each; then all come back at once, CONCURRENCY at a time, to the
 * subscriber's node (another node of a cluster: the session moves through
 * Redis). Rate: sessions resumed per second, each counted once its queued
 * message arrived; latency: from its CONNECT to that message.
 */
export async function resumeStorm(target: Target, sessions: number): Promise<Result> {
  const credential = target.watcher;
  const id = (n: number) => `resume-${target.name}-${n}`;
  await inBatches(sessions, async (n) => {
    const client = await mqtt.connectAsync(target.url, { ...credential, clientId: id(n), clean: false, reconnectPeriod: 0, protocolVersion: 4 });
    await client.subscribeAsync(`resume/${n}`, { qos: 1 });
    await client.endAsync();
  });
  const publisher = await mqtt.connectAsync(target.url, { ...credential, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
  await Promise.all(Array.from({ length: sessions }, (_, n) => publisher.publishAsync(`resume/${n}`, `queued for ${n}`, { qos: 1 })));
  await publisher.endAsync();

  const run = await measured(target, async (ready) => {
    const cpuBefore = process.cpuUsage();
    ready();
    const startedAt = now();
    const resumed = await inBatches(sessions, (n) => resume(target.subscriberUrl ?? target.url, credential, id(n)));
    const seconds = (now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { resumed, seconds, generatorCpuSeconds: (cpu.user + cpu.system) / 1e6 };
  });
  const { resumed, seconds } = run.report;
  const done = resumed.filter((r): r is Extract<Resumed, { waitedMs: number }> => 'waitedMs' in r);
  const failures = resumed.filter((r): r is Extract<Resumed, { failed: string }> => 'failed' in r);
  const waited = done.map((r) => r.waitedMs).sort((a, b) => a - b);
  return {
    scenario: `resume-storm (${sessions})`, target: target.name, rate: Math.round(done.length / seconds), unit: 'sessions/s resumed',
    latencyMs: waited.length ? { p50: percentile(waited, 50), p99: percentile(waited, 99), p999: percentile(waited, 99.9), max: percentile(waited, 100) } : null,
    ...measuredFields(run, done.length),
    ok: done.length === sessions && done.every((r) => r.sessionPresent),
    details: {
      sessions, resumed: done.length, withoutSessionPresent: done.filter((r) => !r.sessionPresent).length, seconds: Math.round(seconds * 100) / 100,
      ...(failures.length ? { failed: failures.length, firstFailure: failures[0]!.failed } : {}),
    },
  };
}
