import { randomFillSync } from 'node:crypto';
import { V7Generator } from 'uuidv7';
import type { Database } from '../../db/database.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { TelemetryPayload } from './telemetry-payload.js';

/** One queued telemetry row, with the id it is stored under. */
export type TelemetryRow = { id: string; deviceId: string; stream: string; payload: TelemetryPayload; receivedAt: number };

/**
 * A batch is one call of gatehouse_write_telemetry (migrations/…_telemetry-write-procedure.sql),
 * prepared once per connection, whatever its size. Its columns travel as
 * joined text rather than arrays: node-postgres escapes every element of an
 * array (0.8 µs a row on the gateway's one thread), joining costs 0.2 µs, and
 * a payload, being valid JSON, cannot hold the record separator (JSON allows
 * no raw control character). Bytes travel as hex in a column of their own.
 * Ids are UUIDv7 made here, monotonic within the process, so that rows of one
 * millisecond keep their arrival order.
 */
const RECORD_SEPARATOR = '\x1e';

/** Writes one tenant's batch in one transaction. */
export async function insertTelemetry(db: Database, scope: TenantScope, rows: TelemetryRow[]): Promise<void> {
  await db.callAsTenant(scope, 'gatehouse_write_telemetry', columns(rows));
}

/**
 * UUIDv7 ids: the library's generator (monotonic within a millisecond) with
 * its random bits drawn 4 KiB at a time (its default draws 32 bytes a time),
 * written as 32 hex digits in one native call (Postgres takes a uuid with or
 * without hyphens; the library's toString builds the text a character at a time).
 */
export const nextId = (() => {
  const pool = new Uint32Array(1024);
  let next = pool.length;
  const generator = new V7Generator({
    nextUint32() {
      if (next === pool.length) {
        randomFillSync(pool);
        next = 0;
      }
      return pool[next++]!;
    },
  });
  const scratch = Buffer.alloc(16);
  return () => {
    scratch.set(generator.generate().bytes);
    return scratch.toString('hex');
  };
})();

/** The function's arguments after the tenant, in its order. */
function columns(rows: TelemetryRow[]): [ids: string, devices: string, streams: string[], payloads: string, receivedAt: string, bytes: string] {
  const n = rows.length;
  const [idList, devices, streams, payloads, times, bytes] = [new Array<string>(n), new Array<string>(n), new Array<string>(n), new Array<string>(n), new Array<number>(n), new Array<string>(n)];
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    idList[i] = r.id;
    devices[i] = r.deviceId;
    streams[i] = r.stream;
    // '' is neither JSON nor a bytea literal ('\x' is one, even for no bytes): NULLIF makes it NULL.
    payloads[i] = typeof r.payload === 'string' ? r.payload : '';
    bytes[i] = typeof r.payload === 'string' ? '' : `\\x${r.payload.toString('hex')}`;
    times[i] = r.receivedAt;
  }
  return [idList.join(','), devices.join(','), streams, payloads.join(RECORD_SEPARATOR), times.join(','), bytes.join(',')];
}
