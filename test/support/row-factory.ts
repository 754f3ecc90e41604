import { randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from '../../src/db/database.js';

/**
 * Valid rows for any table, built from the catalog alone: every NOT NULL column
 * without a default gets a value of its type (the first literal of a single-column
 * `CHECK (c IN (...))`, else a short lowercase token that the schema's name and
 * slug patterns accept), and every foreign key gets a parent row, inserted by the
 * owner, recursively. Values that must be shared (tenant_id) are passed in `fixed`
 * and flow into the parents, so a (tenant_id, device_id) key finds a device of
 * that tenant. A table the generator cannot fill fails with the reason; give it
 * values in OVERRIDES rather than a hand-written fixture.
 */

type Column = { name: string; attnum: number; type: string; baseType: string; category: string; baseOid: number; notNull: boolean; hasDefault: boolean };
type ForeignKey = { parent: string; cols: string[]; parentCols: string[] };
export type Row = Record<string, string>;

/**
 * Column values the generic rules cannot produce, by table (its partitions share it) and column: also set
 * when nullable, for a CHECK that asks one of several nullable columns (telemetry: payload or payload_bytes).
 */
const OVERRIDES: Record<string, Row> = { telemetry: { payload: '{}' }, device_connections: { connections: '1' } };
const overrideFor = (table: string, column: string) => OVERRIDES[table.replace(/_(default|p\d{8}_\d{8})$/, '')]?.[column];

const MAX_DEPTH = 6;
let counter = 0;

export const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function columns(q: Queryable, table: string): Promise<Column[]> {
  const { rows } = await q.query<Column>(`
    SELECT a.attname AS name, a.attnum, format_type(a.atttypid, a.atttypmod) AS type, bt.typname AS "baseType",
           bt.typcategory AS category, bt.oid::int AS "baseOid", a.attnotnull AS "notNull",
           (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS "hasDefault"
      FROM pg_attribute a
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`, [table]);
  return rows;
}

/**
 * References the schema checks by statement trigger rather than by a foreign key
 * (a per-row foreign key costs telemetry ingest too much): the parents the
 * catalog's foreign keys do not name (migrations/…_telemetry-device-in-tenant.sql).
 */
const CHECKED_REFERENCES: Record<string, ForeignKey[]> = Object.fromEntries(['telemetry', 'telemetry_default'].map((table) =>
  [table, [{ parent: 'devices', cols: ['tenant_id', 'device_id'], parentCols: ['tenant_id', 'id'] }]]));

async function foreignKeys(q: Queryable, table: string): Promise<ForeignKey[]> {
  return [...await declaredForeignKeys(q, table), ...(CHECKED_REFERENCES[table] ?? [])];
}

async function declaredForeignKeys(q: Queryable, table: string): Promise<ForeignKey[]> {
  const { rows } = await q.query<ForeignKey>(`
    SELECT c.confrelid::regclass::text AS parent,
           ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS cols,
           ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS "parentCols"
      FROM pg_constraint c
     WHERE c.conrelid = $1::regclass AND c.contype = 'f'`, [table]);
  return rows;
}

/** The first literal of a CHECK on this column alone, e.g. `status = ANY (ARRAY['active'::text, …])`. */
async function checkLiteral(q: Queryable, table: string, column: Column): Promise<string | undefined> {
  const { rows } = await q.query<{ def: string }>(
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' AND conkey = ARRAY[$2::smallint]`,
    [table, column.attnum]);
  for (const { def } of rows) {
    const literal = /(?:= ANY \(ARRAY\[|= )'((?:[^']|'')*)'/.exec(def);
    if (literal) return literal[1]!.replaceAll("''", "'");
  }
  return undefined;
}

async function valueFor(q: Queryable, table: string, column: Column): Promise<string> {
  const override = overrideFor(table, column.name);
  if (override !== undefined) return override;
  switch (column.baseType) {
    case 'uuid': return randomUUID();
    case 'json': case 'jsonb': return '{}';
    case 'bytea': return '\\x00';
    case 'bool': return 'false';
  }
  switch (column.category) {
    case 'S': return (await checkLiteral(q, table, column)) ?? `w${++counter}x${randomBytes(3).toString('hex')}`;
    case 'N': return '0';
    // Timestamps in the future: expires_at must not have passed.
    case 'D': return new Date(Date.now() + 3_600_000).toISOString();
    case 'T': return '1 hour';
    case 'A': return '{}';
    case 'I': return '127.0.0.1';
    case 'E': {
      const { rows } = await q.query<{ label: string }>('SELECT enumlabel AS label FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder LIMIT 1', [column.baseOid]);
      if (rows[0]) return rows[0].label;
    }
  }
  throw new Error(`row-factory: no value for ${table}.${column.name} (${column.type}); add one to OVERRIDES in test/support/row-factory.ts`);
}

/**
 * The values of a valid new row of `table` (a regclass name), its parents
 * inserted through `owner`. Only NOT NULL columns without defaults, foreign
 * keys that need a parent and `fixed` columns are given.
 */
export async function buildRow(owner: Queryable, table: string, fixed: Row, depth = 0): Promise<Row> {
  if (depth > MAX_DEPTH) throw new Error(`row-factory: foreign keys nest deeper than ${MAX_DEPTH} at ${table}`);
  const cols = await columns(owner, table);
  const byName = new Map(cols.map((c) => [c.name, c]));
  const values: Row = {};
  for (const [name, value] of Object.entries(fixed)) if (byName.has(name)) values[name] = value;

  for (const fk of await foreignKeys(owner, table)) {
    if (fk.cols.every((c) => c in values)) continue;
    // A nullable reference stays NULL unless part of it is already fixed.
    if (fk.cols.every((c) => !byName.get(c)!.notNull) && !fk.cols.some((c) => c in values)) continue;
    const parentFixed: Row = {};
    fk.cols.forEach((c, i) => { if (c in values) parentFixed[fk.parentCols[i]!] = values[c]!; });
    // Parents belong to the same tenant as the child.
    if (fixed.tenant_id !== undefined) parentFixed.tenant_id ??= fixed.tenant_id;
    const parent = await insertRow(owner, fk.parent, await buildRow(owner, fk.parent, parentFixed, depth + 1), fk.parentCols);
    fk.cols.forEach((c, i) => { values[c] = parent[fk.parentCols[i]!]!; });
  }

  for (const column of cols) {
    if (column.name in values) continue;
    const override = overrideFor(table, column.name);
    if (override !== undefined) values[column.name] = override;
    else if (column.notNull && !column.hasDefault) values[column.name] = await valueFor(owner, table, column);
  }
  return values;
}

/** INSERT the row through `tx` (whichever role it runs as); returns the `returning` columns as text. */
export async function insertRow(tx: Queryable, table: string, row: Row, returning: string[] = []): Promise<Row> {
  const cols = await columns(tx, table);
  const names = Object.keys(row);
  const casts = names.map((name, i) => `$${i + 1}::${cols.find((c) => c.name === name)!.type}`);
  const sql = `INSERT INTO ${table} (${names.map(ident).join(', ')}) VALUES (${casts.join(', ')})`
    + (returning.length ? ` RETURNING ${returning.map((c) => `${ident(c)}::text AS ${ident(c)}`).join(', ')}` : '');
  const { rows } = await tx.query<Row>(sql, names.map((name) => row[name]));
  return rows[0] ?? {};
}
