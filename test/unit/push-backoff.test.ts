import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, retryDelayMs } from '../../src/retry-delay.js';

describe('push retry backoff', () => {
  it('draws below an exponential bound that stops at the cap', () => {
    const top = () => 0.999_999;
    expect(retryDelayMs(DEFAULT_RETRY, 1, undefined, top)).toBe(999);
    expect(retryDelayMs(DEFAULT_RETRY, 4, undefined, top)).toBe(7_999);
    expect(retryDelayMs(DEFAULT_RETRY, 30, undefined, top)).toBe(3_599_996);
    expect(retryDelayMs(DEFAULT_RETRY, 4, undefined, () => 0)).toBe(0);
  });

  it('never waits less than Retry-After', () => {
    expect(retryDelayMs(DEFAULT_RETRY, 1, 60_000, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(DEFAULT_RETRY, 20, 60_000, () => 0.5)).toBe(1_800_000);
  });
});
