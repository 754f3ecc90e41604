/** What one load-generator process is asked to do, and what it reports. */
export type PublishSpec = {
  kind: 'publish';
  url: string;
  publishers: { username?: string; password?: string; topic: string }[];
  messagesPerPublisher: number;
  qos: 0 | 1;
  /** Total offered rate (messages/s over all publishers); unset: as fast as the broker takes them. */
  ratePerSecond?: number;
  payloadBytes: number;
  /** `raw`: the same fixed bytes every time, not JSON (mqtt-bench's shape); default a timestamped JSON object. */
  payloadKind?: 'json' | 'raw';
  /** `url`: where the subscriber connects, if not to the publishers' `url` (another node of a cluster). */
  subscriber?: { username?: string; password?: string; url?: string; filter: string; qos: 0 | 1 };
  /** How long to wait for stragglers after the publishers are done. */
  drainTimeoutMs: number;
};

export type ConnectSpec = {
  kind: 'connect';
  url: string;
  credentials: { username?: string; password?: string }[];
  concurrency: number;
  /** Rounds: the first is cold; later ones reconnect the same credentials. */
  rounds: number;
  /** How long to hold every connection open after each round (the target's RSS is sampled meanwhile). */
  holdMs: number;
};

export type LatencySummary = { p50: number; p99: number; p999: number; max: number; mean: number };

export type PublishReport = {
  sent: number;
  acked: number;
  errors: number;
  firstPublishAt: number;
  publishersDoneAt: number;
  received: number;
  lastReceivedAt: number;
  latencyMs: LatencySummary | null;
  generatorCpuSeconds: number;
};

export type ConnectReport = { rounds: { connected: number; failed: number; seconds: number; perSecond: number; failures?: Record<string, number> }[]; generatorCpuSeconds: number };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
