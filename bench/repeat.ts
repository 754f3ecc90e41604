import { atFixedRate, type Result } from './scenarios/broker-scenarios.js';

/**
 * One result per scenario and target out of several runs: the median run,
 * its figures kept whole (not a mix of runs), every run's rate listed, and
 * `ok` only if every run accounted for every message. Runs at a fixed offered
 * rate are ranked by their p99 (latency), or by how far it rose over the
 * unloaded one (overload: each run measures its own baseline), the others by rate.
 */
export function medianRuns(runs: Result[][]): Result[] {
  const groups = new Map<string, Result[]>();
  for (const result of runs.flat()) {
    const key = `${result.scenario}\u0000${result.target}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups.values()].map((group) => {
    if (group.length === 1) return group[0]!;
    const measure = (r: Result) => ('p99Ratio' in r.details ? Number(r.details.p99Ratio) : atFixedRate(r) ? (r.latencyMs?.p99 ?? Infinity) : r.rate);
    const ranked = [...group].sort((a, b) => measure(a) - measure(b));
    const median = ranked[Math.floor((ranked.length - 1) / 2)]!;
    return { ...median, ok: group.every((r) => r.ok), details: { ...median.details, rates: group.map((r) => r.rate), ...(atFixedRate(median) ? { p99s: group.map((r) => r.latencyMs?.p99) } : {}), ...('p99Ratio' in median.details ? { p99Ratios: group.map((r) => r.details.p99Ratio) } : {}) } };
  });
}
