import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertTelemetry, nextId } from '../../src/core/telemetry/telemetry-insert.js';
import { TelemetryWriter, type TelemetryRecord } from '../../src/core/telemetry/telemetry-writer.js';
import { Database, createPool } from '../../src/db/database.js';
import type { TenantScope } from '../../src/db/tenant-scope.js';
import { createTestDatabase } from '../support/database.js';
import { scopeFor } from '../support/fixtures.js';

/**
 * The database's guarantee that a telemetry row's device is a device of the
 * row's tenant (migrations/1763800000010_telemetry-device-in-tenant.sql),
 * through the writer's write procedure and through SQL that names the table or
 * its partition directly.
 */
describe('a telemetry row\'s device belongs to its tenant', () => {
  let db: Database;
  let url: string;
  let close: () => Promise<void>;
  let tenantA: string;
  let tenantB: string;
  let deviceA: string;
  let deviceB: string;
  let scopeA: TenantScope;

  const FOREIGN_KEY_VIOLATION = '23503';
  const count = async (deviceId: string) => Number((await db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE device_id = $1', [deviceId]))[0]!.n);

  beforeAll(async () => {
    ({ db, url, close } = await createTestDatabase());
    const tenant = async (slug: string) => (await db.platformQuery<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, [slug]))[0]!.id;
    const device = async (tenantId: string, name: string) =>
      (await db.platformQuery<{ id: string }>(`INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, $2, $3, 'x') RETURNING id`, [tenantId, name, `${tenantId}.${name}`]))[0]!.id;
    [tenantA, tenantB] = [await tenant('device-tenant-a'), await tenant('device-tenant-b')];
    [deviceA, deviceB] = [await device(tenantA, 'meter'), await device(tenantB, 'meter')];
    scopeA = scopeFor(tenantA);
  });
  afterAll(() => close());

  /** Writes `devices.length` rows in one batch and returns each row's outcome. */
  async function writeBatch(devices: string[]): Promise<(Error | undefined)[]> {
    const writer = new TelemetryWriter(db, { maxBatch: 1_000, maxBatchBesideLight: 1_000, heavyShareBesideLight: 1, maxDelayMs: 50, highWater: 10_000, highWaterBesideLight: 10_000, concurrency: 1, bulkConcurrency: 1 });
    const outcomes = devices.map((deviceId, n) => {
      const record: TelemetryRecord = { tenant: scopeA, deviceId, stream: '', payload: JSON.stringify({ n }), receivedAt: Date.now() };
      return new Promise<Error | undefined>((resolve) => writer.write(record, resolve));
    });
    await writer.flush();
    return Promise.all(outcomes);
  }

  for (const size of [3, 100]) {
    it(`a batch of ${size} rows for the tenant's own device is stored; a row for another tenant's device or none is refused alone`, async () => {
      const before = await count(deviceA);
      expect(await writeBatch(Array(size).fill(deviceA))).toEqual(Array(size).fill(undefined));
      expect(await count(deviceA)).toBe(before + size);

      // The check refuses the stray row; the writer then writes the batch again without it (a device removed
      // while its rows were queued must not cost its tenant's other devices theirs).
      for (const stray of [deviceB, randomUUID()]) {
        const outcomes = await writeBatch([...Array(size - 1).fill(deviceA), stray]);
        expect(outcomes.slice(0, -1)).toEqual(Array(size - 1).fill(undefined));
        expect(outcomes.at(-1)).toMatchObject({ code: 'DEVICE_NOT_FOUND' });
      }
      expect(await count(deviceA)).toBe(before + size + 2 * (size - 1));
      expect(await count(deviceB)).toBe(0);
    });
  }

  it('holds for SQL naming the table or its partition, and for updates, even as the owner', async () => {
    const insert = (table: string, tenantId: string, deviceId: string) =>
      db.platformQuery(`INSERT INTO ${table} (tenant_id, device_id, payload) VALUES ($1, $2, '{}')`, [tenantId, deviceId]);
    for (const table of ['telemetry', 'telemetry_default']) {
      await expect(insert(table, tenantA, deviceB)).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION, constraint: 'telemetry_device_in_tenant' });
      await expect(insert(table, tenantA, randomUUID())).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION });
      await insert(table, tenantA, deviceA);
    }
    await expect(db.platformQuery('UPDATE telemetry SET device_id = $1 WHERE device_id = $2', [deviceB, deviceA])).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION });
    await expect(db.platformQuery('UPDATE telemetry_default SET tenant_id = $1 WHERE device_id = $2', [tenantB, deviceA])).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION });
  });

  it('checks a batch by probing its devices, never by reading every device of the fleet', async () => {
    // A fleet of 3 000 devices just registered, a batch of 80 rows from 80 of them: the planner, left to
    // itself, hashed the whole devices table for each such statement (migration 130 says what it cost).
    const fleet = await db.platformQuery<{ id: string }>(
      `INSERT INTO devices (tenant_id, name, username, secret_hash)
       SELECT $1, 'fleet-' || n, 'fleet-' || n || '@a', 'x' FROM generate_series(1, 3000) AS n RETURNING id`, [tenantA]);
    const batch = fleet.slice(0, 80).map((device) => ({ id: nextId(), deviceId: device.id, stream: '', payload: '{}', receivedAt: Date.now() }));
    // One connection: its statistics are flushed when it next goes idle after pg_stat_force_next_flush().
    const writer = new Database(createPool(url, 1));
    try {
      const devicesScans = async () => {
        await writer.platformQuery('SELECT pg_stat_force_next_flush()', []);
        return (await writer.platformQuery<{ seq: string; idx: string }>(
          "SELECT seq_scan AS seq, idx_scan AS idx FROM pg_stat_user_tables WHERE relname = 'devices'", []))[0]!;
      };
      const before = await devicesScans();
      await insertTelemetry(writer, scopeA, batch);
      const after = await devicesScans();
      expect(Number(after.seq) - Number(before.seq)).toBe(0);
      expect(Number(after.idx) - Number(before.idx)).toBeGreaterThanOrEqual(80);
      expect(await count(fleet[79]!.id)).toBe(1);
    } finally {
      await writer.close();
    }
  });

  it('a device with telemetry keeps its tenant and id', async () => {
    await db.platformQuery(`INSERT INTO telemetry (tenant_id, device_id, payload) VALUES ($1, $2, '{}')`, [tenantA, deviceA]);
    await expect(db.platformQuery('UPDATE devices SET tenant_id = $1 WHERE id = $2', [tenantB, deviceA])).rejects.toMatchObject({ code: FOREIGN_KEY_VIOLATION });
    // Other columns change as before.
    await db.platformQuery('UPDATE devices SET online = true WHERE id = $1', [deviceA]);
  });
});
