import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryWriter } from '../../src/core/telemetry/telemetry-writer.js';
import type { Database } from '../../src/db/database.js';
import { createTestDatabase } from '../support/database.js';
import { scopeFor } from '../support/fixtures.js';

/** Text that breaks naive quoting: SQL and array quotes, backslashes, separators, dollar tags, non-ASCII. */
const AWKWARD = ['', 'power', 'a,b', 'q"uote', "o'brien", 'back\\slash', '{x,y}', 'NULL', 'phase/1', 'ünïcödé 日本 😀', '$gh$'];
const payloadFor = (n: number) =>
  JSON.stringify({ n, text: AWKWARD[n % AWKWARD.length], escaped: 'tab\there "q" \\ \u001e end', nested: { list: [1, 'two', null, true], deep: { '$gh$': 'x' } } });

describe('TelemetryWriter against PostgreSQL', () => {
  let db: Database;
  let close: () => Promise<void>;
  let tenantId: string;
  let deviceIds: string[];

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    tenantId = (await db.platformQuery<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, ['writer-test']))[0]!.id;
    deviceIds = (await db.platformQuery<{ id: string }>(`INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, 'd', 'writer-test.d', 'x'), ($1, 'e', 'writer-test.e', 'x'), ($1, 'f', 'writer-test.f', 'x') RETURNING id`, [tenantId])).map((row) => row.id);
  });
  afterAll(() => close());

  // 10 rows take the inline path, 300 the unnest path.
  for (const count of [10, 300]) {
    it(`stores ${count} rows exactly as received, in arrival order`, async () => {
      await db.platformQuery('DELETE FROM telemetry', []);
      const writer = new TelemetryWriter(db, { maxBatch: 1_000, maxBatchBesideLight: 1_000, heavyShareBesideLight: 1, maxDelayMs: 50, highWater: 10_000, highWaterBesideLight: 10_000, concurrency: 2, bulkConcurrency: 2 });
      // Three devices, and a clock that once steps back (times are sent as offsets from the batch's first).
      const sent = Array.from({ length: count }, (_, n) => ({ tenant: scopeFor(tenantId), deviceId: deviceIds[(n * 7) % 3]!, stream: AWKWARD[n % AWKWARD.length]!, payload: payloadFor(n), receivedAt: 1_700_000_000_000 + n - (n > count / 2 ? 3 : 0) }));
      for (const record of sent) writer.write(record);
      await writer.flush();

      const rows = await db.platformQuery<{ stream: string; payload: unknown; at: string; tenant_id: string; device_id: string }>(
        `SELECT stream, payload, (extract(epoch FROM received_at) * 1000)::bigint::text AS at, tenant_id, device_id FROM telemetry ORDER BY id`, []);
      expect(rows.map((r) => ({ stream: r.stream, payload: r.payload, at: Number(r.at), tenant: r.tenant_id, device: r.device_id }))).toEqual(
        sent.map((s) => ({ stream: s.stream, payload: JSON.parse(s.payload), at: s.receivedAt, tenant: tenantId, device: s.deviceId })));
    });
  }
});
