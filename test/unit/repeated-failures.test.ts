import { afterEach, describe, expect, it, vi } from 'vitest';
import { RepeatedFailures } from '../../src/repeated-failures.js';

describe('RepeatedFailures', () => {
  afterEach(() => vi.useRealTimers());

  it('reports the first failure at once, then one count per interval while they go on, then nothing', () => {
    vi.useFakeTimers();
    const reports: [number, string][] = [];
    const failures = new RepeatedFailures<string>((count, sample) => reports.push([count, sample]), 10_000);
    failures.record('a');
    expect(reports).toEqual([[1, 'a']]);
    for (const sample of ['b', 'c', 'd']) failures.record(sample);
    expect(reports).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(reports).toEqual([[1, 'a'], [3, 'd']]);
    vi.advanceTimersByTime(10_000); // a quiet interval: no line
    expect(reports).toHaveLength(2);
    failures.record('e'); // a new outage is reported at once again
    expect(reports.at(-1)).toEqual([1, 'e']);
  });
});
