import { describe, expect, it } from 'vitest';
import { DeviceStateWriter } from '../../src/core/devices/device-state-writer.js';
import type { Database } from '../../src/db/database.js';
import type { TenantScope } from '../../src/db/tenant-scope.js';
import { scopeFor } from '../support/fixtures.js';

type Write = { tenantId: string; params: unknown[] };

/** A database whose transactions fail while `down` is set, and that records the statements of those that commit. */
function flakyDatabase() {
  const state = { down: false, committed: [] as Write[], during: undefined as (() => void) | undefined };
  const db = {
    async withEachTenant<T>(groups: Iterable<[TenantScope, T]>, fn: (tx: { query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>; afterCommit(callback: () => void): void }, item: T, scope: TenantScope) => Promise<void>) {
      state.during?.();
      if (state.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      const writes: Write[] = [];
      const committed: (() => void)[] = [];
      for (const [scope, item] of groups) {
        const tx = { query: async (_sql: string, params: unknown[]) => (writes.push({ tenantId: scope.tenantId, params }), { rows: [] }), afterCommit: (callback: () => void) => void committed.push(callback) };
        await fn(tx, item, scope);
      }
      state.committed.push(...writes);
      committed.forEach((callback) => callback());
    },
  };
  return { state, db: db as unknown as Database };
}

const TENANT_ID = '00000000-0000-4000-8000-000000000001';
const TENANT = scopeFor(TENANT_ID);

describe('DeviceStateWriter', () => {
  it('keeps presence that failed to write and writes the latest once the database is back', async () => {
    const { state, db } = flakyDatabase();
    const errors: Error[] = [];
    const writer = new DeviceStateWriter(db, 60_000, (error) => errors.push(error), undefined, undefined, 'node-1');
    writer.connected(TENANT, 'device-1');
    await writer.flush();
    // The devices' rows locked, then this node's connections of each recorded.
    expect(state.committed).toEqual([{ tenantId: TENANT_ID, params: [['device-1']] }, { tenantId: TENANT_ID, params: [['device-1'], [1], 'node-1'] }]);

    state.down = true;
    writer.disconnected('device-1');
    await expect(writer.flush()).rejects.toThrow(/ECONNREFUSED/);
    await expect(writer.flush()).rejects.toThrow(/ECONNREFUSED/);
    expect(errors).toHaveLength(2);
    expect(writer.pending).toBe(1);

    state.down = false;
    await writer.flush();
    expect(state.committed.at(-1)).toEqual({ tenantId: TENANT_ID, params: [['device-1'], [0], 'node-1'] });
    expect(writer.pending).toBe(0);
    await writer.close();
  });

  it('keeps a state that failed to write unless a newer one arrived meanwhile', async () => {
    const { state, db } = flakyDatabase();
    const writer = new DeviceStateWriter(db, 60_000, () => undefined);
    state.down = true;
    writer.state(TENANT, 'device-1', '{"v":1}');
    writer.state(TENANT, 'device-2', '{"v":1}');
    state.during = () => writer.state(TENANT, 'device-2', '{"v":2}'); // arrives while the failing write is under way
    await expect(writer.flush()).rejects.toThrow();

    state.during = undefined;
    state.down = false;
    await writer.flush();
    expect(state.committed).toEqual([{ tenantId: TENANT_ID, params: [TENANT_ID, ['device-2', 'device-1'], ['{"v":2}', '{"v":1}']] }]);
    await writer.close();
  });

  it('keeps last-seen activity that failed to write', async () => {
    const { state, db } = flakyDatabase();
    const writer = new DeviceStateWriter(db, 60_000, () => undefined, undefined, undefined, 'node-1');
    writer.connected(TENANT, 'device-1');
    await writer.flush();
    state.down = true;
    writer.seen('device-1');
    await expect(writer.flush()).rejects.toThrow();
    state.down = false;
    await writer.flush();
    expect(state.committed).toHaveLength(4);
    expect(state.committed[3]).toEqual({ tenantId: TENANT_ID, params: [['device-1'], [1], 'node-1'] });
    await writer.close();
  });
});
