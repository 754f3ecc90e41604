import { operatorContext } from '../../src/auth/operator.js';
import { insertTelemetry, nextId, type TelemetryRow } from '../../src/core/telemetry/telemetry-insert.js';
import { createTenant } from '../../src/core/tenants.js';
import { Database, createPool } from '../../src/db/database.js';
import { tenantScope, type TenantScope } from '../../src/db/tenant-scope.js';
import { percentiles } from '../stats.js';
import { onCpuMicroseconds } from '../targets/process-stats.js';

export type CommitCostSizes = { rounds: number; rowsPerRound: number };

type Measured = { rows: number; devices: number; deviceCheck: boolean; usPerCall: number; usPerRow: number; perRowVersusLargest: number };

export type CommitCostResult = {
  scenario: 'commit-cost';
  unit: 'µs of the Postgres backend\'s CPU, median of the rounds';
  floor: { roundTrip: number; durableOneRowInsert: number };
  writes: Measured[];
};

const GROUP_SIZES = [1, 8, 80, 1_000];
const DEVICES = 100;
const PAYLOAD = JSON.stringify({ temperature: 21.5, humidity: 40, battery: 97, seq: 0, label: 'x'.repeat(40) });

/**
 * What one telemetry commit costs Postgres by the number of rows it holds,
 * measured alone on one connection of the gateway's embedded server (the
 * backend's own CPU, from /proc/PID/schedstat). Acknowledged ingest commits
 * the rows its publishers sent meanwhile (at most one each: 8 at mqtt-bench's
 * 10 clients, 80 at 100), QoS 0 up to TELEMETRY_BATCH_MAX; the per-row ratio
 * to the largest group is the least that Postgres's CPU per row at QoS 1 can
 * be against QoS 0's at that group size. Beside it, the floor of any commit
 * here: a `SELECT 1` round trip and a durable one-row INSERT into a table
 * without indexes; and each write again without the device-in-tenant check
 * (session_replication_role = replica, a superuser's switch used as a
 * measurement only), which says what that guarantee costs.
 */
export async function commitCostScenario(connectionString: string, sizes: CommitCostSizes): Promise<CommitCostResult> {
  const pool = createPool(connectionString, 1);
  const db = new Database(pool);
  try {
    const pid = Number((await db.platformQuery<{ pid: number }>('SELECT pg_backend_pid() AS pid', []))[0]!.pid);
    const { scope, devices } = await benchTenant(db);
    await db.platformQuery('CREATE TABLE bench_commit_floor (x integer)', []);

    /** The backend's CPU per call of `call`, after a warm-up, over `count` calls. */
    const cost = async (count: number, call: () => Promise<unknown>) => {
      for (let i = 0; i < Math.min(50, count); i++) await call();
      const before = onCpuMicroseconds(pid);
      for (let i = 0; i < count; i++) await call();
      return (onCpuMicroseconds(pid) - before) / count;
    };
    const named = (name: string, text: string) => () => pool.query({ name, text, values: [] });
    let next = 0;
    const write = (rows: number) => () => insertTelemetry(db, scope, Array.from({ length: rows }, (): TelemetryRow => ({ id: nextId(), deviceId: devices[next++ % devices.length]!, stream: 'telemetry', payload: PAYLOAD, receivedAt: Date.now() })));
    const checkOff = (off: boolean) => db.platformQuery(`SET session_replication_role = ${off ? 'replica' : 'origin'}`, []);

    const calls = (rows: number) => Math.max(20, Math.round(sizes.rowsPerRound / rows));
    const samples = new Map<string, number[]>();
    const record = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
    // Rounds interleave every variant, so a slow moment of the machine lands on all of them.
    for (let round = 0; round < sizes.rounds; round++) {
      record('roundTrip', await cost(calls(1), named('bench_round_trip', 'SELECT 1')));
      record('durableOneRowInsert', await cost(calls(1), named('bench_commit_floor', 'INSERT INTO bench_commit_floor VALUES (1)')));
      for (const rows of GROUP_SIZES) {
        for (const deviceCheck of [true, false]) {
          await checkOff(!deviceCheck);
          record(`${rows}/${deviceCheck}`, await cost(calls(rows), write(rows)));
        }
      }
      await checkOff(false);
    }
    const median = (key: string) => percentiles(samples.get(key)!).p50;
    const round1 = (value: number) => Math.round(value * 10) / 10;
    const largest = GROUP_SIZES.at(-1)!;
    const writes = GROUP_SIZES.flatMap((rows) => [true, false].map((deviceCheck): Measured => {
      const usPerCall = median(`${rows}/${deviceCheck}`);
      return {
        rows, devices: Math.min(rows, DEVICES), deviceCheck, usPerCall: Math.round(usPerCall), usPerRow: round1(usPerCall / rows),
        perRowVersusLargest: Math.round((usPerCall / rows / (median(`${largest}/${deviceCheck}`) / largest)) * 100) / 100,
      };
    }));
    await db.platformQuery('DROP TABLE bench_commit_floor', []);
    await db.withPlatform((tx) => tx.query('DELETE FROM telemetry WHERE tenant_id = $1', [scope.tenantId]));
    return {
      scenario: 'commit-cost', unit: 'µs of the Postgres backend\'s CPU, median of the rounds',
      floor: { roundTrip: Math.round(median('roundTrip')), durableOneRowInsert: Math.round(median('durableOneRowInsert')) }, writes,
    };
  } finally {
    await db.close();
  }
}

/** A tenant of its own with DEVICES devices, so that the rows it writes can be removed after. */
async function benchTenant(db: Database): Promise<{ scope: TenantScope; devices: string[] }> {
  const tenant = await createTenant(db, { slug: `bench-commit-cost-${Date.now()}` });
  // In random order: consecutive rows of a group are not neighbours in the devices index.
  const devices = await db.withPlatform(async (tx) => (await tx.query<{ id: string }>(
    `WITH made AS (INSERT INTO devices (tenant_id, name, username, secret_hash)
                   SELECT $1, 'meter-' || n, 'meter-' || n || '@' || $2, 'unused' FROM generate_series(1, $3) AS n RETURNING id)
     SELECT id FROM made ORDER BY random()`,
    [tenant.id, tenant.slug, DEVICES],
  )).rows.map((row) => row.id));
  return { scope: tenantScope(await operatorContext(db, tenant.slug)), devices };
}
