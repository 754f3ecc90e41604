/** Latency percentiles over a sample of durations in milliseconds. */
export type Percentiles = { p50: number; p99: number; p999: number; max: number; mean: number };

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (value: number) => Math.round(value * 1000) / 1000;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return { p50: round(at(0.5)), p99: round(at(0.99)), p999: round(at(0.999)), max: round(sorted.at(-1) ?? 0), mean: round(mean) };
}

/** Runs `task` `total` times with at most `concurrency` in flight; returns each run's duration (ms) and the wall time. */
export async function measure(total: number, concurrency: number, task: (index: number) => Promise<unknown>): Promise<{ durations: number[]; wallMs: number; cpuMs: number }> {
  const durations: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const index = next++;
        const t0 = performance.now();
        await task(index);
        durations.push(performance.now() - t0);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { durations, wallMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}
