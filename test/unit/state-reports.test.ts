import { describe, expect, it } from 'vitest';
import { LocalEventBus } from '../../src/core/event-bus.js';
import { StateReportQueue, type StateReport } from '../../src/voice/state-reports.js';

const T1 = 'tenant-1';
const T2 = 'tenant-2';

function queue(send: (tenantId: string, reports: StateReport[]) => Promise<void>, maxPending = 100) {
  const bus = new LocalEventBus();
  let now = 1_000;
  const errors: string[] = [];
  const q = new StateReportQueue(bus, send, {
    intervalMs: 3_600_000, retry: { baseMs: 1_000, capMs: 1_000, maxAttempts: 3 }, maxPending, onError: (tenantId) => errors.push(tenantId),
  }, () => now);
  return { bus, q, errors, advance: (ms: number) => { now += ms; } };
}

describe('voice state reports: coalesced per device, retried per tenant', () => {
  it('many changes of one device between two flushes are one report with the latest of each field and its presence', async () => {
    const sent: [string, StateReport[]][] = [];
    const { bus, q } = queue(async (tenantId, reports) => void sent.push([tenantId, reports]));
    bus.emit('device.state.changed', { tenantId: T1, deviceId: 'd1', state: { on: true, brightness: 10 } });
    bus.emit('device.state.changed', { tenantId: T1, deviceId: 'd1', state: { brightness: 80 } });
    bus.emit('device.presence.changed', { tenantId: T1, deviceId: 'd1', online: false });
    bus.emit('device.state.changed', { tenantId: T2, deviceId: 'd9', state: { temperature: 21 } });
    await q.flush();
    expect(sent).toEqual([
      [T1, [{ deviceId: 'd1', state: { on: true, brightness: 80 }, online: false }]],
      [T2, [{ deviceId: 'd9', state: { temperature: 21 } }]],
    ]);
    await q.flush();
    expect(sent).toHaveLength(2);
    await q.close(bus);
  });

  it('a tenant whose send fails keeps its batch, merges newer changes over it and waits its backoff; the other tenant is not held', async () => {
    let failT1 = true;
    const sent: [string, StateReport[]][] = [];
    const { bus, q, errors, advance } = queue(async (tenantId, reports) => {
      if (tenantId === T1 && failT1) throw new Error('homegraph 503');
      sent.push([tenantId, reports]);
    });
    bus.emit('device.state.changed', { tenantId: T1, deviceId: 'd1', state: { on: true, brightness: 10 } });
    bus.emit('device.state.changed', { tenantId: T2, deviceId: 'd9', state: { on: false } });
    await q.flush();
    expect(errors).toEqual([T1]);
    expect(sent).toEqual([[T2, [{ deviceId: 'd9', state: { on: false } }]]]);
    bus.emit('device.state.changed', { tenantId: T1, deviceId: 'd1', state: { brightness: 50 } });
    await q.flush();
    expect(sent).toHaveLength(1);
    failT1 = false;
    advance(1_000);
    await q.flush();
    expect(sent[1]).toEqual([T1, [{ deviceId: 'd1', state: { on: true, brightness: 50 } }]]);
    await q.close(bus);
  });

  it('gives a batch up after the last attempt, and past maxPending devices keeps what it has rather than growing', async () => {
    const { bus, q, errors, advance } = queue(async () => { throw new Error('down'); }, 2);
    for (const deviceId of ['a', 'b', 'c']) bus.emit('device.state.changed', { tenantId: T1, deviceId, state: { on: true } });
    for (let attempt = 0; attempt < 3; attempt++) {
      await q.flush();
      advance(1_000);
    }
    expect(errors).toEqual([T1, T1, T1]);
    const after: StateReport[][] = [];
    const { bus: bus2, q: q2 } = queue(async (_t, reports) => void after.push(reports), 2);
    for (const deviceId of ['a', 'b', 'c']) bus2.emit('device.state.changed', { tenantId: T1, deviceId, state: { on: true } });
    await q2.flush();
    expect(after[0]!.map((r) => r.deviceId)).toEqual(['a', 'b']);
    await q.flush();
    expect(errors).toHaveLength(3);
    await Promise.all([q.close(bus), q2.close(bus2)]);
  });
});
