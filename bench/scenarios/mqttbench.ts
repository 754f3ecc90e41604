import type { Target } from '../targets/targets.js';
import { runGenerator } from './runner.js';
import { measured, measuredFields, waitForRows, type Result, type Sizes } from './broker-scenarios.js';

const CLIENTS = Number(process.env.BENCH_MQTTBENCH_CLIENTS ?? 10);
const PAYLOAD = 100;
const round = (value: number) => Math.round(value);

/**
 * mqtt-bench's shape (`mqtt-bench -action pub -clients N -qos Q`): N clients on
 * one credential, each publishing fixed non-JSON bytes to `<topic>/<n>` as fast
 * as its PUBACKs (QoS 1) or its socket (QoS 0) allow; a subscriber on the
 * device's topics counts what is routed. Gatehouse also counts what it stored.
 */
export async function mqttBench(target: Target, sizes: Sizes, qos: 0 | 1): Promise<Result> {
  const { topic, ...credential } = target.device(0);
  const perClient = qos === 1 ? Math.round(sizes.qos1PerPublisher * (10 / CLIENTS)) : Math.round(sizes.qos0PerPublisher * (10 / CLIENTS));
  const before = target.storedRows ? await target.storedRows() : 0;
  const run = await measured(target, async (ready) => {
    const report = await runGenerator({
      kind: 'publish', url: target.url, publishers: Array.from({ length: CLIENTS }, (_, n) => ({ ...credential, topic: `${topic}/${n}` })),
      messagesPerPublisher: perClient, qos, payloadBytes: PAYLOAD, payloadKind: 'raw', drainTimeoutMs: 30_000,
      subscriber: { ...target.watcher, filter: `${topic}/#`, qos: 0 },
    }, ready);
    const stored = target.storedRows ? await waitForRows(target, report.sent, before) : undefined;
    return { ...report, stored };
  });
  const { report } = run;
  const seconds = (end: number) => Math.max(end - report.firstPublishAt, 1) / 1000;
  const counted = report.stored?.rows ?? (qos === 1 ? report.acked : report.received);
  const end = report.stored?.at ?? (qos === 1 ? report.publishersDoneAt : report.lastReceivedAt);
  return {
    scenario: `mqttbench-qos${qos}`, target: target.name, rate: round(counted / seconds(end)), unit: report.stored ? 'msg/s stored' : qos === 1 ? 'msg/s acknowledged' : 'msg/s delivered',
    latencyMs: qos === 1 ? report.latencyMs : null, ...measuredFields(run, counted),
    ok: report.errors === 0 && report.received === report.sent && (qos === 0 || report.acked === report.sent) && (report.stored === undefined || report.stored.rows === report.sent),
    details: {
      clients: CLIENTS, sent: report.sent, ...(qos === 1 ? { acked: report.acked } : {}), ...(report.stored ? { stored: report.stored.rows } : {}), delivered: report.received,
      sentPerSecond: round(report.sent / seconds(report.publishersDoneAt)), deliveredPerSecond: round(report.received / seconds(report.lastReceivedAt)),
    },
  };
}
