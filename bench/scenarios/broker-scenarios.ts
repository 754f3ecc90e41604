import os from 'node:os';
import type { PublishReport } from '../load/spec.js';
import { now } from '../load/spec.js';
import { cpuSeconds, descendantsCpuSeconds, machineBusySeconds, rssBytes, sampleRss } from '../targets/process-stats.js';
import type { Target } from '../targets/targets.js';
import { runGenerator } from './runner.js';

export type Result = {
  scenario: string;
  target: Target['name'];
  /** Messages (or connections) per second: committed rows for Gatehouse ingest, delivered messages otherwise. */
  rate: number;
  unit: string;
  latencyMs?: { p50: number; p99: number; p999: number; max: number } | null;
  targetCpuSeconds: number;
  peakRssMb: number;
  /** Which side ran out of CPU: one process's thread, or (neither alone) the machine's cores. */
  saturated: 'target' | 'generator' | 'machine' | 'neither';
  /**
   * Where the machine's CPU went, per message (per connection for a storm):
   * the target, its database (Gatehouse's embedded Postgres; nothing for the
   * others), the load generator; and how many of the machine's cores were
   * busy over the run (all processes, not only these).
   */
  cpu: { targetUs: number; databaseUs: number | null; generatorUs: number; busyCores: number };
  /** The run's own verdict: every message accounted for (a fast run that lost rows is a failed run). */
  ok: boolean;
  details: Record<string, unknown>;
};

export type Sizes = { qos0PerPublisher: number; qos1PerPublisher: number; fanInPerPublisher: number; latencySeconds: number; stormDevices: number; overloadSeconds: number };

const PAYLOAD = 100;
const QOS1_PUBLISHERS = Number(process.env.BENCH_QOS1_PUBLISHERS ?? 100);
const round = (value: number) => Math.round(value);

/** Latency and overload runs offer a fixed rate: they are judged by their p99, not by a rate every target keeps up with. */
export const atFixedRate = (result: Result): boolean => 'offered' in result.details;

type Measured<T> = { report: T; cpu: number; peakRssMb: number; wall: number; saturated: Result['saturated']; budget(units: number): Result['cpu'] };

const cpuNow = (target: Target) => ({ at: now(), ...(target.cpu?.() ?? { target: cpuSeconds(target.pid), database: descendantsCpuSeconds(target.pid) }), machine: machineBusySeconds() });

/**
 * Runs `work` while measuring the target's CPU and peak RSS, its database's
 * CPU and the machine's; names which side ran out of CPU. CPU is measured
 * from when `work` calls `ready` (its publishers are connected) if it does:
 * cold connects cost Gatehouse an argon2id verification each, which is not
 * a cost of the messages.
 */
export async function measured<T extends { generatorCpuSeconds: number }>(target: Target, work: (ready: () => void) => Promise<T>): Promise<Measured<T>> {
  let before = cpuNow(target);
  const rss = sampleRss(target.pid);
  const report = await work(() => (before = cpuNow(target)));
  const after = cpuNow(target);
  const wall = (after.at - before.at) / 1000;
  const cpu = after.target - before.target;
  const database = after.database - before.database;
  const machine = after.machine - before.machine;
  const peakRssMb = Math.round(rss.stop() / 1048576);
  const saturated = cpu / wall > 0.9 ? 'target' : report.generatorCpuSeconds / wall > 0.9 ? 'generator' : machine / wall > 0.9 * os.cpus().length ? 'machine' : 'neither';
  const perUnit = (seconds: number, units: number) => Math.round((seconds / Math.max(units, 1)) * 1e7) / 10;
  return {
    report, cpu: Math.round(cpu * 100) / 100, peakRssMb, wall, saturated,
    budget: (units) => ({
      targetUs: perUnit(cpu, units), databaseUs: target.storedRows ? perUnit(database, units) : null,
      generatorUs: perUnit(report.generatorCpuSeconds, units), busyCores: Math.round((machine / wall) * 100) / 100,
    }),
  };
}

/** A result's measured fields, CPU shared out over `units` messages (connections, for a storm). */
export function measuredFields(run: Measured<unknown>, units: number): Pick<Result, 'targetCpuSeconds' | 'peakRssMb' | 'saturated' | 'cpu'> {
  return { targetCpuSeconds: run.cpu, peakRssMb: run.peakRssMb, saturated: run.saturated, cpu: run.budget(units) };
}

function publishers(target: Target, count: number) {
  return Array.from({ length: count }, (_, n) => {
    const { topic, ...credential } = target.device(n);
    return { ...credential, topic };
  });
}

/** Rows appear in Postgres after the generator is done: wait for the count to stop moving. */
export async function waitForRows(target: Target, expected: number, before: number): Promise<{ rows: number; at: number }> {
  let rows = (await target.storedRows!()) - before;
  let at = now();
  let stalled = now();
  while (rows < expected && now() - stalled < 5_000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = (await target.storedRows!()) - before;
    if (next !== rows) {
      rows = next;
      at = now();
      stalled = now();
    }
  }
  return { rows, at };
}

/**
 * QoS 0 ingest from 10 publishers. Gatehouse: rows committed per second, from
 * the first publish to the last commit. Others store nothing, so: delivery
 * per second to an external `#` subscriber.
 */
export async function qos0Ingest(target: Target, sizes: Sizes): Promise<Result> {
  const before = target.storedRows ? await target.storedRows() : 0;
  const run = await measured(target, async (ready) => {
    const report = await runGenerator({
      kind: 'publish', url: target.url, publishers: publishers(target, 10), messagesPerPublisher: sizes.qos0PerPublisher, qos: 0,
      payloadBytes: PAYLOAD, drainTimeoutMs: 30_000, ...(target.storedRows ? {} : { subscriber: { ...target.watcher, filter: '#', qos: 0 as const } }),
    }, ready);
    const stored = target.storedRows ? await waitForRows(target, report.sent, before) : undefined;
    return { ...report, stored };
  });
  const { report } = run;
  const [count, end] = report.stored ? [report.stored.rows, report.stored.at] : [report.received, report.lastReceivedAt];
  return {
    scenario: 'qos0-ingest', target: target.name, rate: round((count / (end - report.firstPublishAt)) * 1000), unit: report.stored ? 'rows/s committed' : 'msg/s delivered',
    latencyMs: null, ...measuredFields(run, count),
    ok: count === report.sent && report.errors === 0,
    details: { sent: report.sent, accountedFor: count, ...(report.errors ? { notSent: report.errors } : {}), written: round((report.sent / (report.publishersDoneAt - report.firstPublishAt)) * 1000) },
  };
}

/** QoS 1 with one message in flight per client; Gatehouse's PUBACK means "committed", checked by counting rows. */
export async function qos1Ingest(target: Target, sizes: Sizes): Promise<Result> {
  const before = target.storedRows ? await target.storedRows() : 0;
  const commitsBefore = await target.commits?.();
  const run = await measured(target, (ready) =>
    runGenerator({ kind: 'publish', url: target.url, publishers: publishers(target, QOS1_PUBLISHERS), messagesPerPublisher: Math.round(sizes.qos1PerPublisher / (QOS1_PUBLISHERS / 10)), qos: 1, payloadBytes: PAYLOAD, drainTimeoutMs: 0 }, ready));
  const { report } = run;
  const rows = target.storedRows ? (await target.storedRows()) - before : undefined;
  const commitsAfter = await target.commits?.();
  const grouping = commitsBefore && commitsAfter ? { commits: commitsAfter.commits - commitsBefore.commits, rowsPerCommit: Math.round(((commitsAfter.rows - commitsBefore.rows) / Math.max(1, commitsAfter.commits - commitsBefore.commits)) * 10) / 10 } : {};
  return {
    scenario: 'qos1-ingest', target: target.name, rate: round((report.acked / (report.publishersDoneAt - report.firstPublishAt)) * 1000), unit: 'msg/s acknowledged',
    latencyMs: report.latencyMs, ...measuredFields(run, report.acked),
    ok: report.acked === report.sent && (rows === undefined || rows === report.acked),
    details: { sent: report.sent, acked: report.acked, ...(rows === undefined ? {} : { rowsStored: rows }), ...grouping },
  };
}

/** 100 publishers, one app subscribed to devices/+/telemetry: all delivered, and how long the backlog takes to drain. */
export async function fanIn(target: Target, sizes: Sizes): Promise<Result> {
  const run = await measured(target, (ready) => runGenerator({
    kind: 'publish', url: target.url, publishers: publishers(target, 100), messagesPerPublisher: sizes.fanInPerPublisher, qos: 0, payloadBytes: PAYLOAD,
    subscriber: { ...target.watcher, url: target.subscriberUrl, filter: 'devices/+/telemetry', qos: 0 }, drainTimeoutMs: 60_000,
  }, ready));
  const { report } = run;
  const drainSeconds = Math.max(0, (report.lastReceivedAt - report.publishersDoneAt) / 1000);
  return {
    scenario: 'fan-in', target: target.name, rate: round((report.received / (report.lastReceivedAt - report.firstPublishAt)) * 1000), unit: 'msg/s delivered',
    latencyMs: report.latencyMs, ...measuredFields(run, report.received),
    ok: report.received === report.sent && report.errors === 0,
    details: { sent: report.sent, delivered: report.received, drainSeconds: Math.round(drainSeconds * 100) / 100 },
  };
}

/** End-to-end latency device → subscriber at a fixed offered rate. */
export async function latencyAt(target: Target, sizes: Sizes, rate: number): Promise<Result> {
  const perPublisher = Math.round((rate * sizes.latencySeconds) / 10);
  const run = await measured(target, (ready) => runGenerator({
    kind: 'publish', url: target.url, publishers: publishers(target, 10), messagesPerPublisher: perPublisher, qos: 0, payloadBytes: PAYLOAD, ratePerSecond: rate,
    subscriber: { ...target.watcher, url: target.subscriberUrl, filter: 'devices/+/telemetry', qos: 0 }, drainTimeoutMs: 30_000,
  }, ready));
  const { report } = run;
  const keptUp = report.received === report.sent && (report.latencyMs?.p99 ?? Infinity) < 1_000;
  return {
    scenario: `latency@${rate / 1000}k`, target: target.name, rate: round((report.received / (report.lastReceivedAt - report.firstPublishAt)) * 1000), unit: 'msg/s delivered',
    latencyMs: report.latencyMs, ...measuredFields(run, report.received), saturated: keptUp ? run.saturated : 'target',
    ok: report.received === report.sent && report.errors === 0,
    details: { offered: rate, sent: report.sent, delivered: report.received, keptUp },
  };
}

/**
 * N devices connect (cold: argon2 each; warm: the verification cache), held
 * open to weigh them. Each round is measured on its own: the cold round's peak
 * includes argon2's working memory (19 MiB per verification in flight), which
 * is not a cost of holding connections.
 */
export async function connectStorm(target: Target, sizes: Sizes): Promise<Result[]> {
  const credentials = Array.from({ length: sizes.stormDevices }, (_, n) => {
    const { topic: _topic, ...credential } = target.device(1_000 + n);
    return credential;
  });
  const results: Result[] = [];
  for (const phase of ['cold', 'warm'] as const) {
    const baseline = rssBytes(target.pid);
    const run = await measured(target, () => runGenerator({ kind: 'connect', url: target.url, credentials, concurrency: 200, rounds: 1, holdMs: 2_000 }));
    const round = run.report.rounds[0]!;
    results.push({
      scenario: `connect-storm (${phase})`, target: target.name, rate: round.perSecond, unit: 'connects/s',
      latencyMs: null, ...measuredFields(run, round.connected),
      ok: round.failed === 0,
      details: { connected: round.connected, failed: round.failed, ...(round.failures ? { failures: round.failures } : {}), seconds: Math.round(round.seconds * 100) / 100, rssPerConnectionKb: Math.round((run.peakRssMb * 1048576 - baseline) / sizes.stormDevices / 1024) },
    });
  }
  return results;
}

/**
 * Overload: one tenant offers twice what the node sustains while another
 * tenant publishes QoS 1 at 100 msg/s. The node must stay up, lose no
 * acknowledged message, and keep the quiet tenant's p99 within 2× of unloaded.
 */
export async function overload(target: Target & { otherTenant: NonNullable<Target['otherTenant']> }, sizes: Sizes, sustained: number): Promise<Result> {
  const { topic, ...quietCredential } = target.otherTenant;
  const quiet = (seconds: number) => runGenerator({
    kind: 'publish', url: target.url, publishers: [{ ...quietCredential, topic }], messagesPerPublisher: 100 * seconds, qos: 1, ratePerSecond: 100, payloadBytes: PAYLOAD, drainTimeoutMs: 0,
  });
  // A million rows from the run before may still be on their way to disk: measured then, the
  // "unloaded" p99 came out at 20 ms instead of 3–6.
  await target.settle?.();
  const quietBefore = await target.storedRows!('quiet');
  const unloaded = await quiet(sizes.overloadSeconds); // as many samples as the loaded run: p99s of equal counts
  const before = await target.storedRows!();
  const offered = Math.max(1_000, sustained * 2);
  const run = await measured(target, async (ready) => {
    const [flood, loaded] = await Promise.all([
      runGenerator({ kind: 'publish', url: target.url, publishers: publishers(target, 10), messagesPerPublisher: Math.round((offered * sizes.overloadSeconds) / 10), qos: 0, ratePerSecond: offered, payloadBytes: PAYLOAD, drainTimeoutMs: 0 }, ready),
      quiet(sizes.overloadSeconds),
    ]);
    return { ...loaded, flood, generatorCpuSeconds: loaded.generatorCpuSeconds + flood.generatorCpuSeconds };
  });
  const { report } = run;
  const stored = await waitForRows(target, report.flood.sent + report.acked, before);
  const quietRows = (await target.storedRows!('quiet')) - quietBefore;
  const alive = (() => {
    try {
      process.kill(target.pid, 0);
      return true;
    } catch {
      return false;
    }
  })();
  const ratio = (report.latencyMs?.p99 ?? Infinity) / Math.max(unloaded.latencyMs?.p99 ?? 1, 1);
  return {
    scenario: 'overload (2×)', target: target.name, rate: round((report.flood.sent / (report.flood.publishersDoneAt - report.flood.firstPublishAt)) * 1000), unit: 'msg/s offered',
    latencyMs: report.latencyMs, ...measuredFields(run, report.flood.sent + report.sent),
    ok: alive && report.acked === report.sent && quietRows === unloaded.acked + report.acked,
    details: {
      offered, floodSent: report.flood.sent, ...(report.flood.errors ? { floodNotSent: report.flood.errors } : {}), rowsStored: stored.rows, quietAcked: report.acked, quietSent: report.sent, quietRowsStored: quietRows - unloaded.acked,
      quietP99UnloadedMs: unloaded.latencyMs?.p99, quietP99LoadedMs: report.latencyMs?.p99, p99Ratio: Math.round(ratio * 100) / 100,
    },
  };
}

export type { PublishReport };
