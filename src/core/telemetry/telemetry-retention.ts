import type { Database, Tx } from '../../db/database.js';
import { missingRanges, PARTITIONED_TABLES, rangeOfPartition, type PartitionedTable, type PartitionUnit, type Range } from './partition-ranges.js';

export type RetentionOptions = {
  unit: PartitionUnit;
  /** Periods created ahead of the current one. */
  ahead: number;
  /** The platform's ceiling on any tenant's retention. */
  maxDays: number;
  /** Rows per DELETE for a tenant that keeps less than the others. */
  batchRows: number;
  /** DELETE batches per table and run: a long backlog is worked off over several runs, not in one that holds a connection for minutes. */
  maxBatches: number;
};

export type MaintenanceReport = { ran: boolean; created: string[]; dropped: string[]; deleted: number };

// pg advisory lock keys: one node of several does each part at a time.
const PARTITIONS_LOCK = 0x6761_7465_0001n;
const DELETES_LOCK = 0x6761_7465_0002n;
const DAY_MS = 86_400_000;

/**
 * Telemetry and device events that age out: partitions made ahead of time,
 * whole partitions dropped once every tenant's retention has passed them,
 * and bounded DELETE batches for the tenants that keep less. Runs as the
 * platform (every tenant), under advisory locks so that gateways sharing a
 * database neither race to create a partition nor delete the same rows twice.
 */
export class TelemetryRetention {
  constructor(private readonly db: Database, private readonly options: RetentionOptions, private readonly now: () => Date = () => new Date()) {}

  async maintain(): Promise<MaintenanceReport> {
    const partitions = await this.db.withPlatform((tx) => this.maintainPartitions(tx));
    if (!partitions) return { ran: false, created: [], dropped: [], deleted: 0 };
    return { ran: true, ...partitions, deleted: await this.deleteExpired() };
  }

  private async maintainPartitions(tx: Tx): Promise<{ created: string[]; dropped: string[] } | undefined> {
    if (!(await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [PARTITIONS_LOCK])).rows[0]!.ok) return undefined;
    // DDL on a partitioned table waits for its readers and writers; past this the run gives up and the next one tries.
    await tx.query("SET LOCAL lock_timeout = '5s'");
    const existing = await this.partitions(tx);
    const now = this.now();
    const created: string[] = [];
    for (const table of Object.keys(PARTITIONED_TABLES) as PartitionedTable[]) {
      const ranges = existing.filter((p) => p.table === table);
      for (const range of missingRanges(ranges, now, this.options.ahead, this.options.unit)) created.push(await this.createPartition(tx, table, range));
    }
    const horizon = new Date(+now - (await this.longestRetentionDays(tx)) * DAY_MS);
    const dropped = existing.filter((p) => p.to <= horizon).map((p) => p.name);
    for (const name of dropped) await tx.query(`DROP TABLE ${quoteIdent(name)}`);
    return { created, dropped };
  }

  private async partitions(tx: Tx): Promise<(Range & { table: PartitionedTable; name: string })[]> {
    const { rows } = await tx.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent IN ('telemetry'::regclass, 'device_events'::regclass)`, []);
    return rows.flatMap(({ name }) => {
      const range = rangeOfPartition(name);
      return range ? [{ ...range, name }] : [];
    });
  }

  /** A new partition takes over whatever its range has in the DEFAULT partition (normally nothing): Postgres refuses it otherwise. */
  private async createPartition(tx: Tx, table: PartitionedTable, { from, to }: Range): Promise<string> {
    const columns = PARTITIONED_TABLES[table];
    await tx.query(`CREATE TEMP TABLE gatehouse_moving ON COMMIT DROP AS
      WITH moved AS (DELETE FROM ${table}_default WHERE received_at >= $1 AND received_at < $2 RETURNING ${columns}) SELECT * FROM moved`, [from, to]);
    const name = (await tx.query<{ name: string }>('SELECT gatehouse_create_partition($1, $2, $3) AS name', [table, from, to])).rows[0]!.name;
    await tx.query(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM gatehouse_moving`);
    await tx.query('DROP TABLE gatehouse_moving');
    return name;
  }

  /** How long the longest-keeping tenant keeps its data, within the platform's ceiling: older partitions hold nothing anyone keeps. */
  private async longestRetentionDays(tx: Tx): Promise<number> {
    const { rows } = await tx.query<{ days: number | null }>('SELECT max(telemetry_retention_days) AS days FROM tenants', []);
    return Math.min(rows[0]!.days ?? this.options.maxDays, this.options.maxDays);
  }

  /** Tenants keeping less than the longest: their rows between their cutoff and the dropped partitions go in batches. */
  private async deleteExpired(): Promise<number> {
    const tenants = await this.db.withPlatform(async (tx) => (await tx.query<{ id: string; days: number }>(
      `SELECT id, LEAST(telemetry_retention_days, $1) AS days FROM tenants
        WHERE LEAST(telemetry_retention_days, $1) < (SELECT LEAST(max(telemetry_retention_days), $1) FROM tenants)`, [this.options.maxDays])).rows);
    let deleted = 0;
    for (const { id, days } of tenants) {
      const cutoff = new Date(+this.now() - days * DAY_MS);
      for (const table of Object.keys(PARTITIONED_TABLES) as PartitionedTable[]) deleted += await this.deleteOlder(table, id, cutoff);
    }
    return deleted;
  }

  private async deleteOlder(table: PartitionedTable, tenantId: string, cutoff: Date): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < this.options.maxBatches; batch++) {
      const rows = await this.db.withPlatform(async (tx) => {
        if (!(await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [DELETES_LOCK])).rows[0]!.ok) return -1;
        // received_at < cutoff prunes to the old partitions; tenant_id leads the device-time index inside them.
        const result = await tx.query(
          `DELETE FROM ${table} t USING (SELECT id, received_at FROM ${table} WHERE tenant_id = $1 AND received_at < $2 LIMIT $3) old
            WHERE t.id = old.id AND t.received_at = old.received_at`, [tenantId, cutoff, this.options.batchRows]);
        return result.rowCount ?? 0;
      });
      if (rows < 0) break; // another node is deleting
      deleted += rows;
      if (rows < this.options.batchRows) break;
    }
    return deleted;
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
