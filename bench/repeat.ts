import type { Result } from './scenarios/broker-scenarios.js';

/**
 * One result per scenario and target out of several runs: the median run,
 * its figures kept whole (not a mix of runs), every run's rate listed, and
 * `ok` only if every run accounted for every message. Runs at a fixed offered
 * rate (latency, overload) are ranked by their p99, the others by rate.
 */
export function medianRuns(runs: Result[][]): Result[] {
  const groups = new Map<string, Result[]>();
  for (const result of runs.flat()) {
    const key = `${result.scenario}\u0000${result.target}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups.values()].map((group) => {
    if (group.length === 1) return group[0]!;
    const measure = (r: Result) => ('offered' in r.details ? (r.latencyMs?.p99 ?? Infinity) : r.rate);
    const ranked = [...group].sort((a, b) => measure(a) - measure(b));
    const median = ranked[Math.floor((ranked.length - 1) / 2)]!;
    return { ...median, ok: group.every((r) => r.ok), details: { ...median.details, rates: group.map((r) => r.rate), ...('offered' in median.details ? { p99s: group.map((r) => r.latencyMs?.p99) } : {}) } };
  });
}
