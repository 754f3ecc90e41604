import { describe, expect, it } from 'vitest';
import { compare, crossing, evaluate, fieldOf, inWindow, isTimeZone, nextFiring } from '../../src/core/automations/trigger-rules.js';

describe('automation trigger rules', () => {
  const above = { kind: 'threshold' as const, device: 't', field: 'temperature', above: 30, hysteresis: 2 };
  const below = { kind: 'threshold' as const, device: 't', field: 'battery', below: 20, hysteresis: 5 };

  it('a threshold fires once when crossed, and again only after the value went back past the hysteresis band', () => {
    let armed = true;
    const fires: boolean[] = [];
    for (const value of [25, 31, 32, 29, 31, 27.9, 28, 30.5, 'hot', 31]) {
      const next = crossing(above, value, armed);
      fires.push(next.fire);
      armed = next.armed;
    }
    expect(fires).toEqual([false, true, false, false, false, false, false, true, false, false]);
  });

  it('a below threshold mirrors it', () => {
    expect(crossing(below, 19, true)).toEqual({ fire: true, armed: false });
    expect(crossing(below, 22, false)).toEqual({ fire: false, armed: false });
    expect(crossing(below, 25, false)).toEqual({ fire: false, armed: true });
  });

  it('reads dotted fields and compares only numbers by order', () => {
    expect(fieldOf({ a: { b: 3 } }, 'a.b')).toBe(3);
    expect(fieldOf({ a: [1] }, 'a.0')).toBeUndefined();
    expect(compare(3, 'gt', 2)).toBe(true);
    expect(compare('3', 'gt', 2)).toBe(false);
    expect(compare('open', 'eq', 'open')).toBe(true);
    expect(compare(null, 'ne', 1)).toBe(true);
  });

  it('time windows are read in the tenant\'s zone and wrap past midnight', () => {
    const at = new Date('2027-01-15T22:30:00Z'); // 23:30 in Berlin
    expect(inWindow(at, 'Europe/Berlin', '22:00', '06:00')).toBe(true);
    expect(inWindow(at, 'UTC', '23:00', '06:00')).toBe(false);
    expect(inWindow(at, 'Europe/Berlin', '08:00', '23:30')).toBe(false);
    const evaluated = evaluate([{ kind: 'time', after: '22:00', before: '06:00' }, { kind: 'state', device: 'd', field: 'on', op: 'eq', value: true }], () => ({ on: false }), at, 'Europe/Berlin');
    expect(evaluated.map((c) => [c.passed, c.actual])).toEqual([[true, at.toISOString()], [false, false]]);
  });

  it('the next firing of a cron is in the tenant\'s zone, across a DST change, and a bad pattern is a validation error', () => {
    expect(nextFiring('30 2 * * *', 'Europe/Berlin', new Date('2027-01-15T00:00:00Z'))?.toISOString()).toBe('2027-01-15T01:30:00.000Z');
    expect(nextFiring('30 2 * * *', 'Europe/Berlin', new Date('2027-07-15T00:00:00Z'))?.toISOString()).toBe('2027-07-15T00:30:00.000Z');
    expect(nextFiring('30 2 * * *', 'America/New_York', new Date('2027-01-15T00:00:00Z'))?.toISOString()).toBe('2027-01-15T07:30:00.000Z');
    expect(() => nextFiring('every night', 'UTC', new Date())).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
