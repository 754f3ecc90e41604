import { describe, expect, it } from 'vitest';
import { medianRuns } from '../../bench/repeat.js';
import type { Result } from '../../bench/scenarios/broker-scenarios.js';

const result = (target: Result['target'], rate: number, ok = true): Result => ({
  scenario: 'qos0-ingest', target, rate, unit: 'msg/s', latencyMs: null, targetCpuSeconds: rate / 1000, peakRssMb: 1, saturated: 'neither', cpu: { targetUs: 1, databaseUs: null, generatorUs: 1, busyCores: 1 }, ok, details: { sent: rate },
});

describe('medianRuns', () => {
  it('keeps the whole median run per target and lists every run\'s rate', () => {
    const [merged, other] = medianRuns([[result('gatehouse', 10), result('aedes', 5)], [result('gatehouse', 30), result('aedes', 7)], [result('gatehouse', 20), result('aedes', 6)]]);
    expect(merged).toEqual({ ...result('gatehouse', 20), details: { sent: 20, rates: [10, 30, 20] } });
    expect(other).toMatchObject({ target: 'aedes', rate: 6, details: { rates: [5, 7, 6] } });
  });

  it('fails the result when any run lost messages, even a run that is not the median', () => {
    const [merged] = medianRuns([[result('gatehouse', 10, false)], [result('gatehouse', 30)], [result('gatehouse', 20)]]);
    expect(merged).toMatchObject({ rate: 20, ok: false });
  });

  it('ranks runs at a fixed offered rate by their p99', () => {
    const latency = (p99: number, rate: number): Result => ({ ...result('gatehouse', rate), scenario: 'latency@5k', latencyMs: { p50: 1, p99, p999: p99, max: p99 }, details: { offered: 5_000 } });
    const [merged] = medianRuns([[latency(9, 5_003)], [latency(3, 5_001)], [latency(5, 5_002)]]);
    expect(merged).toMatchObject({ rate: 5_002, latencyMs: { p99: 5 }, details: { offered: 5_000, rates: [5_003, 5_001, 5_002], p99s: [9, 3, 5] } });
  });

  it('ranks overload runs by how far the quiet tenant\'s p99 rose over its own unloaded baseline, and lists every ratio', () => {
    const overload = (p99: number, p99Ratio: number): Result => ({ ...result('gatehouse', 90_000), scenario: 'overload (2×)', latencyMs: { p50: 1, p99, p999: p99, max: p99 }, details: { offered: 180_000, p99Ratio } });
    const [merged] = medianRuns([[overload(8, 2.7)], [overload(12, 1.7)], [overload(10, 2.1)]]);
    expect(merged).toMatchObject({ latencyMs: { p99: 10 }, details: { p99Ratio: 2.1, p99s: [8, 12, 10], p99Ratios: [2.7, 1.7, 2.1] } });
  });

  it('passes a single run through untouched', () => {
    expect(medianRuns([[result('gatehouse', 10)]])).toEqual([result('gatehouse', 10)]);
  });
});
