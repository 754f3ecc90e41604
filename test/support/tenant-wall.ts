import type pg from 'pg';
import type { Database, Queryable } from '../../src/db/database.js';
import { contextFor } from './fixtures.js';
import { buildRow, ident, insertRow } from './row-factory.js';

/**
 * The tenant wall, checked from the catalog: which tables carry tenant_id, whether
 * row-level security guards them with a tenant condition (audit), and whether it
 * holds when tenant B goes after tenant A's rows (probe). Both answer with a list
 * of findings, empty when the wall holds, so a test can show them going red on a
 * broken table as well as green on the real schema.
 */

/** The role tenant transactions run as (src/db/database.ts). */
export const APP_ROLE = 'gatehouse_app';

export type TenantTable = {
  /** As SQL names it (regclass text): `devices`, or `scratch.open_policy` outside the search path. */
  name: string;
  kind: string;
  rls: boolean;
  forced: boolean;
  /** The application role owns it (or inherits its owner): then RLS binds it only when FORCEd. */
  appOwns: boolean;
  appPrivileges: boolean;
  tenantIdNullable: boolean;
};

type Policy = { name: string; permissive: string; roles: string[]; cmd: string; qual: string | null; withCheck: string | null };

/** Every relation of `schema` with a tenant_id column, partitions included (a query may name one directly). */
export async function tenantTables(q: Queryable, schema = 'public'): Promise<TenantTable[]> {
  const { rows } = await q.query<TenantTable>(`
    SELECT c.oid::regclass::text AS name, c.relkind::text AS kind, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
           pg_has_role($2, c.relowner, 'USAGE') AS "appOwns",
           has_table_privilege($2, c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS "appPrivileges",
           NOT a.attnotnull AS "tenantIdNullable"
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
     ORDER BY c.relname`, [schema, APP_ROLE]);
  return rows;
}

/** The tenant condition every tenant policy must be built on (migrations/…_core-schema.sql). */
const TENANT_CONDITION = /\btenant_id\s*=\s*gatehouse_current_tenant\(\)|gatehouse_current_tenant\(\)\s*=\s*tenant_id\b/;

function expressionProblem(expression: string | null, clause: string): string | undefined {
  if (expression === null) return `has no ${clause} expression`;
  const bare = expression.replace(/[()\s]/g, '').toLowerCase();
  if (bare === 'true' || bare === '') return `has ${clause} (${expression}): every tenant passes`;
  if (!TENANT_CONDITION.test(expression)) return `has ${clause} (${expression}) without tenant_id = gatehouse_current_tenant()`;
  // Permissive policies are ORed together, and so is anything inside one: an OR can only widen the wall.
  if (/\bOR\b/i.test(expression)) return `widens its ${clause} (${expression}) with OR`;
  return undefined;
}

/**
 * What is wrong with the row-level security of `table`, as read from pg_class and
 * pg_policies. `forcedElsewhere`: some tenant table is FORCEd, so all must be.
 */
export async function auditTable(q: Queryable, table: TenantTable, forcedElsewhere: boolean): Promise<string[]> {
  const findings: string[] = [];
  if (!['r', 'p'].includes(table.kind)) {
    // Views, materialized views and foreign tables have no row-level security of their own.
    if (table.appPrivileges) findings.push(`is a relation of kind '${table.kind}' that ${APP_ROLE} may use, which row-level security cannot guard`);
    return findings;
  }
  if (!table.rls) findings.push('has row-level security disabled');
  if (!table.forced && forcedElsewhere) findings.push('is not FORCEd while other tenant tables are');
  if (!table.forced && table.appOwns) findings.push(`is owned by ${APP_ROLE}, which row-level security skips unless FORCEd`);

  const { rows: policies } = await q.query<Policy>(`
    SELECT p.polname AS name, CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END AS permissive,
           CASE WHEN p.polroles = '{0}' THEN ARRAY['public'] ELSE ARRAY(SELECT rolname::text FROM pg_roles WHERE oid = ANY (p.polroles)) END AS roles,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS cmd,
           pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck"
      FROM pg_policy p WHERE p.polrelid = $1::regclass ORDER BY p.polname`, [table.name]);
  const applying = policies.filter((p) => p.permissive === 'PERMISSIVE' && (p.roles.includes('public') || p.roles.includes(APP_ROLE)));
  if (applying.length === 0) findings.push(`has no permissive policy for ${APP_ROLE}`);
  for (const policy of applying) {
    const problems = [
      ['ALL', 'SELECT', 'UPDATE', 'DELETE'].includes(policy.cmd) ? expressionProblem(policy.qual, 'USING') : undefined,
      // Without WITH CHECK, ALL and UPDATE check new rows against USING; INSERT would check nothing.
      ['ALL', 'INSERT', 'UPDATE'].includes(policy.cmd) ? expressionProblem(policy.withCheck ?? (policy.cmd === 'INSERT' ? null : policy.qual), 'WITH CHECK') : undefined,
    ];
    for (const problem of problems) if (problem) findings.push(`policy ${policy.name} (${policy.cmd}) ${problem}`);
  }
  return findings;
}

/** Whether `error` is Postgres refusing on privilege or policy grounds (42501). */
const refused = (error: unknown) => (error as { code?: string }).code === '42501';

/**
 * Tenant A writes a row of `table` through the application role (Database.withTenant);
 * tenant B then tries to read, update and delete it and to insert a row claiming A's
 * id, and a transaction with no tenant set tries to read it. Each success is a finding.
 * `pool` connects as the owner, which builds parent rows and checks what is left.
 */
export async function probeTable(pool: pg.Pool, db: Database, table: TenantTable): Promise<string[]> {
  const findings: string[] = [];
  const tenant = async (label: string) =>
    (await pool.query<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, [`wall-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`])).rows[0]!.id;
  const [a, b] = [await tenant('a'), await tenant('b')];
  const [asA, asB] = [contextFor(a), contextFor(b)];
  const target = `${table.name} WHERE tenant_id = $1`;
  const snapshot = async () => (await pool.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${table.name} t WHERE tenant_id = $1 ORDER BY 1`, [a])).rows.map((r) => r.row);
  const count = async (tx: Queryable) => (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${target}`, [a])).rows[0]!.n;
  /** rowCount of a statement as tenant B; 0 when Postgres refuses it outright. */
  const asTenantB = async (sql: string) => {
    try {
      return (await db.withTenant(asB, (tx) => tx.query(sql, [a]))).rowCount ?? 0;
    } catch (error) {
      if (refused(error)) return 0;
      throw error;
    }
  };

  const row = await buildRow(pool, table.name, { tenant_id: a });
  try {
    await db.withTenant(asA, (tx) => insertRow(tx, table.name, row));
  } catch (error) {
    return [`tenant A could not write its own row through ${APP_ROLE}: ${(error as Error).message}`];
  }
  const written = await snapshot();
  if (written.length !== 1) return [`tenant A's row was not stored (${written.length} rows)`];
  const seenByA = await db.withTenant(asA, count);
  if (seenByA !== 1) findings.push(`tenant A reads ${seenByA} of its own 1 row (the probe proves nothing)`);

  const seenByB = await asTenantB(`SELECT 1 FROM ${target}`);
  if (seenByB > 0) findings.push(`tenant B read ${seenByB} of tenant A's rows`);
  const updated = await asTenantB(`UPDATE ${table.name} SET tenant_id = tenant_id WHERE tenant_id = $1`);
  if (updated > 0) findings.push(`tenant B updated ${updated} of tenant A's rows`);
  const deleted = await asTenantB(`DELETE FROM ${target}`);
  if (deleted > 0) findings.push(`tenant B deleted ${deleted} of tenant A's rows`);

  const forged = await buildRow(pool, table.name, { tenant_id: a });
  try {
    await db.withTenant(asB, (tx) => insertRow(tx, table.name, forged));
    findings.push(`tenant B inserted a row claiming tenant A's id`);
  } catch (error) {
    if (!refused(error)) findings.push(`tenant B's forged insert failed for another reason than row-level security: ${(error as Error).message}`);
  }

  // With no tenant set, gatehouse_current_tenant() is NULL and must match nothing (fail closed).
  const client = await pool.connect();
  try {
    await client.query(`BEGIN; SET LOCAL ROLE ${ident(APP_ROLE)}`);
    const seenByNobody = await count(client).catch((error: unknown) => (refused(error) ? 0 : Promise.reject(error)));
    if (seenByNobody > 0) findings.push(`a transaction with no tenant set read ${seenByNobody} of tenant A's rows`);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }

  const left = await snapshot();
  if (JSON.stringify(left) !== JSON.stringify(written)) findings.push(`tenant A's row changed under tenant B: ${JSON.stringify(written)} -> ${JSON.stringify(left)}`);
  return findings;
}
