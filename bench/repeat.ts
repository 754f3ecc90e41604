import type { Result } from './scenarios/broker-scenarios.js';

/**
 * One result per scenario and target out of several runs: the run with the
 * median rate, its figures kept whole (not a mix of runs), every run's rate
 * listed, and `ok` only if every run accounted for every message.
 */
export function medianRuns(runs: Result[][]): Result[] {
  const groups = new Map<string, Result[]>();
  for (const result of runs.flat()) {
    const key = `${result.scenario}\u0000${result.target}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  return [...groups.values()].map((group) => {
    if (group.length === 1) return group[0]!;
    const byRate = [...group].sort((a, b) => a.rate - b.rate);
    const median = byRate[Math.floor((byRate.length - 1) / 2)]!;
    return { ...median, ok: group.every((r) => r.ok), details: { ...median.details, rates: group.map((r) => r.rate) } };
  });
}
