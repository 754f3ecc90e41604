import { describe, expect, it } from 'vitest';
import { ArrivalOrder } from '../../src/broker/arrival-order.js';

describe('ArrivalOrder: one client\'s publishes answered in the order they arrived', () => {
  it('holds an answer until every earlier publish is answered, and passes errors through', () => {
    const order = new ArrivalOrder();
    const answered: string[] = [];
    const [first, second, third] = ['telemetry', 'state', 'event'].map((name) => order.admit((error) => answered.push(error ? `${name}: ${error.message}` : name)));
    third!(null);
    second!(new Error('refused'));
    expect(answered).toEqual([]);
    first!(null);
    expect(answered).toEqual(['telemetry', 'state: refused', 'event']);
  });

  it('answers at once when nothing earlier waits, also for a publish admitted while an answer is being released', () => {
    const order = new ArrivalOrder();
    const answered: string[] = [];
    const slow = order.admit(() => {
      answered.push('slow');
      // aedes reads on from inside an answer: the next publish is admitted and answered there and then.
      order.admit(() => answered.push('read on'))(null);
    });
    const quick = order.admit(() => answered.push('quick'));
    quick(null);
    slow(null);
    expect(answered).toEqual(['slow', 'quick', 'read on']);
    order.admit(() => answered.push('alone'))(null);
    expect(answered.at(-1)).toBe('alone');
  });
});
