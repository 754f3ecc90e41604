import { describe, expect, it } from 'vitest';
import { missingRanges, rangeOfPartition } from '../../src/core/telemetry/partition-ranges.js';

const at = (iso: string) => new Date(`${iso}T00:00:00Z`);
const range = (from: string, to: string) => ({ from: at(from), to: at(to) });

describe('partition ranges', () => {
  it('reads a partition\'s range from its name, and nothing from another name', () => {
    expect(rangeOfPartition('telemetry_p20261231_20270101')).toEqual({ table: 'telemetry', ...range('2026-12-31', '2027-01-01') });
    expect(rangeOfPartition('device_events_p20261201_20270101')).toEqual({ table: 'device_events', ...range('2026-12-01', '2027-01-01') });
    expect(rangeOfPartition('telemetry_default')).toBeUndefined();
  });

  it('days: the current one and those ahead, less what exists', () => {
    const now = new Date('2026-12-30T17:45:00Z');
    expect(missingRanges([], now, 2, 'day')).toEqual([range('2026-12-30', '2026-12-31'), range('2026-12-31', '2027-01-01'), range('2027-01-01', '2027-01-02')]);
    expect(missingRanges([range('2026-12-31', '2027-01-01')], now, 2, 'day')).toEqual([range('2026-12-30', '2026-12-31'), range('2027-01-01', '2027-01-02')]);
  });

  it('months: from daily partitions to monthly, the rest of the month around its days', () => {
    const now = new Date('2026-12-03T08:00:00Z');
    const days = [range('2026-12-03', '2026-12-04'), range('2026-12-04', '2026-12-05')];
    expect(missingRanges(days, now, 1, 'month')).toEqual([range('2026-12-01', '2026-12-03'), range('2026-12-05', '2027-01-01'), range('2027-01-01', '2027-02-01')]);
  });
});
