import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertTelemetry, nextId, type TelemetryRow } from '../../src/core/telemetry/telemetry-insert.js';
import type { Database } from '../../src/db/database.js';
import { createTestDatabase } from '../support/database.js';
import { scopeFor } from '../support/fixtures.js';

/** The write procedure (migrations/…_telemetry-write-procedure.sql) stores JSON as jsonb and anything else as its bytes, for a lone row and large batches. */
describe('telemetry payloads through the write procedure', () => {
  let db: Database;
  let close: () => Promise<void>;
  let tenantId: string;
  let deviceId: string;

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    tenantId = (await db.platformQuery<{ id: string }>("INSERT INTO tenants (slug, name) VALUES ('payloads', 'payloads') RETURNING id", []))[0]!.id;
    deviceId = (await db.platformQuery<{ id: string }>("INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, 'meter', 'payloads.meter', 'x') RETURNING id", [tenantId]))[0]!.id;
  });
  afterAll(() => close());

  for (const count of [1, 64, 192]) {
    it(`${count} rows mixing bytes (with separators, quotes, NUL, invalid UTF-8, none at all) and JSON`, async () => {
      const stream = `mixed, "quoted" {${count}}`;
      const payloadOf = (i: number): string | Buffer =>
        i % 3 === 0 ? JSON.stringify({ i, quote: "it's $gh$" }) : i % 3 === 1 ? Buffer.from([i & 0xff, 0x1e, 0x2c, 0x27, 0x00, 0xff]) : Buffer.alloc(0);
      const rows: TelemetryRow[] = Array.from({ length: count }, (_, i) => ({ id: nextId(), deviceId, stream, payload: payloadOf(i), receivedAt: Date.now() }));
      await insertTelemetry(db, scopeFor(tenantId), rows);
      const stored = await db.platformQuery<{ payload: unknown; bytes: Buffer | null }>(
        'SELECT payload, payload_bytes AS bytes FROM telemetry WHERE device_id = $1 AND stream = $2 ORDER BY id', [deviceId, stream]);
      expect(stored.map((row) => row.bytes ?? row.payload)).toEqual(rows.map((row) => (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload)));
    });
  }
});
