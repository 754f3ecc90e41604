/** How far one partition reaches: a UTC day or a UTC month. */
export type PartitionUnit = 'day' | 'month';
export type Range = { from: Date; to: Date };

/** The tables partitioned by received_at, with the columns a row is moved with. */
export const PARTITIONED_TABLES = {
  telemetry: 'id, tenant_id, device_id, stream, received_at, payload, payload_bytes, content_type',
  device_events: 'id, tenant_id, device_id, kind, payload, received_at',
} as const;
export type PartitionedTable = keyof typeof PARTITIONED_TABLES;

/** `<table>_p<from>_<to>`, UTC dates (migrations/…_telemetry-retention.sql's gatehouse_create_partition names them so). */
const NAME = /^(telemetry|device_events)_p(\d{4})(\d{2})(\d{2})_(\d{4})(\d{2})(\d{2})$/;

export function rangeOfPartition(name: string): (Range & { table: PartitionedTable }) | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, table, fy, fm, fd, ty, tm, td] = m;
  return { table: table as PartitionedTable, from: new Date(Date.UTC(+fy!, +fm! - 1, +fd!)), to: new Date(Date.UTC(+ty!, +tm! - 1, +td!)) };
}

export function periodStart(at: Date, unit: PartitionUnit): Date {
  return unit === 'day'
    ? new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()))
    : new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

export function nextPeriod(start: Date, unit: PartitionUnit): Date {
  return unit === 'day'
    ? new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + 1))
    : new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

/**
 * The partitions to create so that the current period and `ahead` more are
 * covered: each period minus what existing partitions already cover (a
 * change from daily to monthly fills the rest of a month around its days).
 */
export function missingRanges(existing: readonly Range[], now: Date, ahead: number, unit: PartitionUnit): Range[] {
  const missing: Range[] = [];
  let start = periodStart(now, unit);
  for (let i = 0; i <= ahead; i++) {
    const end = nextPeriod(start, unit);
    let cursor = start;
    const inside = existing.filter((r) => r.to > start && r.from < end).sort((a, b) => +a.from - +b.from);
    for (const range of inside) {
      if (range.from > cursor) missing.push({ from: cursor, to: range.from });
      if (range.to > cursor) cursor = range.to;
    }
    if (cursor < end) missing.push({ from: cursor, to: end });
    start = end;
  }
  return missing;
}
