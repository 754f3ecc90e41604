import { describe, expect, it } from 'vitest';
import { heldUntil, localMinutes } from '../../src/core/notifications/quiet-hours.js';

describe('quiet hours', () => {
  const at = (iso: string) => new Date(iso);

  it('reads the local clock of the person\'s time zone', () => {
    expect(localMinutes(at('2026-01-15T12:30:00Z'), 'Europe/Vienna')).toBe(13 * 60 + 30); // CET, UTC+1
    expect(localMinutes(at('2026-07-15T12:30:00Z'), 'Europe/Vienna')).toBe(14 * 60 + 30); // CEST, UTC+2
    expect(localMinutes(at('2026-07-15T12:30:30Z'), 'America/New_York')).toBe(8 * 60 + 30.5);
  });

  it('holds a notification until the end of a night that spans midnight', () => {
    const night = { start: 22 * 60, end: 7 * 60, timeZone: 'Europe/Vienna' };
    expect(heldUntil(at('2026-01-15T22:30:00Z'), night)).toEqual(at('2026-01-16T06:00:00Z')); // 23:30 local → 07:00 local
    expect(heldUntil(at('2026-01-16T02:00:00Z'), night)).toEqual(at('2026-01-16T06:00:00Z')); // 03:00 local
    expect(heldUntil(at('2026-01-16T06:00:00Z'), night)).toBeNull(); // 07:00 local: over
    expect(heldUntil(at('2026-01-15T12:00:00Z'), night)).toBeNull();
  });

  it('holds within a daytime window, and never when start equals end', () => {
    const meeting = { start: 9 * 60, end: 10 * 60, timeZone: 'UTC' };
    expect(heldUntil(at('2026-03-01T09:15:00Z'), meeting)).toEqual(at('2026-03-01T10:00:00Z'));
    expect(heldUntil(at('2026-03-01T08:59:00Z'), meeting)).toBeNull();
    expect(heldUntil(at('2026-03-01T09:15:00Z'), { start: 600, end: 600, timeZone: 'UTC' })).toBeNull();
  });
});
