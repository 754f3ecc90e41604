import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { UnavailableRefusals } from '../../src/broker/unavailable-refusals.js';

describe('CONNECTs refused while the server is unavailable', () => {
  afterEach(() => vi.useRealTimers());

  it('logs the first at once, then one line per interval with a count, and stops when they stop', () => {
    vi.useFakeTimers();
    const lines: { fields: Record<string, unknown>; message: string }[] = [];
    const log = { warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }) } as unknown as Logger;
    const refusals = new UnavailableRefusals(log, 10_000);
    const refusal = { reason: 'database unavailable', transport: 'tcp', remoteAddress: '10.0.0.1' };
    for (let i = 0; i < 500; i++) refusals.refused(refusal);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.fields).toMatchObject({ count: 499, lastReason: 'database unavailable' });
    refusals.refused(refusal);
    vi.advanceTimersByTime(10_000);
    expect(lines[2]!.fields).toMatchObject({ count: 1 });
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(3);
    refusals.refused(refusal);
    expect(lines).toHaveLength(4); // a new storm is announced at once
  });
});
