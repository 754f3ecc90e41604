import { describe, expect, it } from 'vitest';
import { localConnectRate, UNLIMITED_CONNECTS } from '../../src/fleet/limits/connect-rate.js';
import { LocalConnectionSlots } from '../../src/fleet/limits/connection-slots.js';
import { LocalTenantRates } from '../../src/fleet/limits/tenant-rates.js';

describe('LocalConnectionSlots (a single node: the front door\'s count as it always was)', () => {
  it('gives a credential `limit` slots at once, synchronously, and one more once one is released', () => {
    const slots = new LocalConnectionSlots(2);
    const [a, b] = [slots.take('t1', 'cred'), slots.take('t1', 'cred')];
    expect(a && b).toBeTruthy();
    expect(slots.take('t1', 'cred')).toBeUndefined();
    expect(slots.take('t1', 'other')).toBeDefined();
    expect(slots.take('t2', 'cred')).toBeDefined(); // the same id in another tenant
    a!.release();
    expect(slots.count('t1', 'cred')).toBe(1);
    expect(slots.take('t1', 'cred')).toBeDefined();
    expect(slots.take('t1', 'cred')).toBeUndefined();
  });

  it('counts a release once however often it is called, and forgets a credential with no slot', () => {
    const slots = new LocalConnectionSlots(1);
    const slot = slots.take('t1', 'cred')!;
    slot.release();
    slot.release();
    expect(slots.count('t1', 'cred')).toBe(0);
    const again = slots.take('t1', 'cred');
    slot.release();
    expect(again).toBeDefined();
    expect(slots.take('t1', 'cred')).toBeUndefined();
  });
});

describe('LocalTenantRates (per second, per tenant)', () => {
  it('takes a tenant\'s messages up to its rate in a second, refuses the next (uncounted), and starts again the next second', () => {
    let now = 10_000;
    const rates = new LocalTenantRates({ messagesPerSecond: 3, bytesPerSecond: 0 }, () => now);
    expect([1, 2, 3, 4].map(() => rates.take('t1', 100))).toEqual([true, true, true, false]);
    expect(rates.take('t2', 100)).toBe(true); // another tenant has its own
    now += 999;
    expect(rates.take('t1', 1)).toBe(false);
    now += 1;
    expect(rates.take('t1', 1)).toBe(true);
  });

  it('holds the byte rate too: a message that would pass it is refused, a smaller one still fits', () => {
    const rates = new LocalTenantRates({ messagesPerSecond: 0, bytesPerSecond: 1_000 }, () => 0);
    expect(rates.take('t1', 600)).toBe(true);
    expect(rates.take('t1', 500)).toBe(false);
    expect(rates.take('t1', 400)).toBe(true);
    expect(rates.take('t1', 1)).toBe(false);
  });

  it('with both rates 0 takes everything', () => {
    const rates = new LocalTenantRates({ messagesPerSecond: 0, bytesPerSecond: 0 });
    for (let i = 0; i < 10_000; i++) expect(rates.take('t1', 1_000_000)).toBe(true);
  });
});

describe('localConnectRate (rate-limiter-flexible in memory)', () => {
  it('is free and synchronous when off (0)', () => {
    expect(localConnectRate(0)).toBe(UNLIMITED_CONNECTS);
    expect(UNLIMITED_CONNECTS.allow('t1', 'cred')).toBe(true);
  });

  it('allows a credential its CONNECTs per window, refuses the next, and keeps credentials and tenants apart', async () => {
    const rate = localConnectRate(2, 60);
    expect([await rate.allow('t1', 'cred'), await rate.allow('t1', 'cred'), await rate.allow('t1', 'cred')]).toEqual([true, true, false]);
    expect(await rate.allow('t1', 'other')).toBe(true);
    expect(await rate.allow('t2', 'cred')).toBe(true);
  });
});
