import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';
import { APP_ROLE, auditTable, probeTable, tenantTables, type TenantTable } from '../support/tenant-wall.js';

// The catalog is read while the file is collected (top-level await), so that every
// table with tenant_id is a test of its own, named after it: a table added by a later
// migration is checked, and listed, without touching this file.
const url = await createEmptyDatabase();
await migrate(url, silentLog);
const pool = new pg.Pool({ connectionString: url, max: 4 });
const db = new Database(pool);
const tables = await tenantTables(pool);
const byName = tables.map((table) => [table.name, table] as const);
const forcedAnywhere = tables.some((table) => table.forced);
afterAll(() => db.close());

/** Tables with tenant_id in the schema today: a floor, so that a catalog query that finds nothing cannot pass. */
const KNOWN = [
  'app_credentials', 'commands', 'device_capabilities', 'device_connections', 'device_state', 'devices', 'invitations', 'memberships', 'notification_preferences',
  'notifications', 'oauth_codes', 'push_credentials', 'push_deliveries', 'push_lanes', 'push_rules', 'push_tokens', 'refresh_tokens',
  'alexa_grants', 'device_events', 'device_events_default', 'security_events', 'telemetry', 'telemetry_default',
  'voice_accounts', 'voice_capabilities', 'voice_credentials', 'voice_pins',
];

describe('the tenant wall, on every table of the schema with tenant_id', () => {
  it('finds the tenant tables in the catalog', () => {
    const names = tables.map((table) => table.name);
    expect(names, `checked: ${names.join(', ')}`).toEqual(expect.arrayContaining(KNOWN));
  });

  it.each(byName)('%s: row-level security is on, with a tenant condition in every policy', async (_, table) => {
    expect(await auditTable(pool, table, forcedAnywhere)).toEqual([]);
  });

  it.each(byName)('%s: tenant B can read, update and delete none of tenant A\'s rows, nor insert one as A', async (_, table) => {
    expect(await probeTable(pool, db, table)).toEqual([]);
  });

  it(`gives ${APP_ROLE} no way around row-level security`, async () => {
    const { rows } = await pool.query('SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1', [APP_ROLE]);
    expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
  });

  it(`lets ${APP_ROLE} reach no table that row-level security does not guard`, async () => {
    const { rows } = await pool.query<{ name: string; rls: boolean; policies: number }>(`
      SELECT c.relname AS name, c.relrowsecurity AS rls, (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
         AND has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
       ORDER BY 1`, [APP_ROLE]);
    // tenants and users have no tenant_id; their own policies (id, membership) are covered in row-level-security.test.ts.
    expect(rows.filter((row) => !row.rls || row.policies === 0)).toEqual([]);
    expect(rows.map((row) => row.name)).toEqual(expect.arrayContaining(['tenants', 'users', ...KNOWN]));
  });

  it('keeps tenant_id NOT NULL, except where a row may belong to no tenant (which no tenant then sees)', () => {
    // Platform events and platform-admin sessions have no tenant (migrations/…_auth.sql), nor the platform-wide push and Home Graph credentials (…_push.sql, …_google-home-graph.sql).
    expect(tables.filter((table) => table.tenantIdNullable).map((table) => table.name)).toEqual(['push_credentials', 'refresh_tokens', 'security_events', 'voice_credentials']);
  });
});

describe('the same checks, on a deliberately broken wall', () => {
  let broken: Map<string, TenantTable>;

  beforeAll(async () => {
    await pool.query(`
      CREATE SCHEMA scratch;
      GRANT USAGE ON SCHEMA scratch TO ${APP_ROLE};
      CREATE TABLE scratch.open_policy (tenant_id uuid NOT NULL REFERENCES tenants (id), note text NOT NULL);
      ALTER TABLE scratch.open_policy ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON scratch.open_policy USING (true);
      CREATE TABLE scratch.no_policy (tenant_id uuid NOT NULL REFERENCES tenants (id), note text NOT NULL);
      CREATE TABLE scratch.widened (tenant_id uuid NOT NULL REFERENCES tenants (id), note text NOT NULL);
      ALTER TABLE scratch.widened ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON scratch.widened USING (tenant_id = gatehouse_current_tenant() OR note LIKE 'w%');
      CREATE TABLE scratch.enabled_no_policy (tenant_id uuid NOT NULL REFERENCES tenants (id), note text NOT NULL);
      ALTER TABLE scratch.enabled_no_policy ENABLE ROW LEVEL SECURITY;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA scratch TO ${APP_ROLE};`);
    broken = new Map((await tenantTables(pool, 'scratch')).map((table) => [table.name, table]));
  });

  it('finds a new table with tenant_id by itself', () => {
    expect([...broken.keys()].sort()).toEqual(['scratch.enabled_no_policy', 'scratch.no_policy', 'scratch.open_policy', 'scratch.widened']);
  });

  it('goes red on a USING (true) policy: tenant B reads, updates, deletes and forges', async () => {
    const table = broken.get('scratch.open_policy')!;
    expect(await auditTable(pool, table, false)).toEqual([
      'policy tenant_isolation (ALL) has USING (true): every tenant passes',
      'policy tenant_isolation (ALL) has WITH CHECK (true): every tenant passes',
    ]);
    expect(await probeTable(pool, db, table)).toEqual([
      'tenant B read 1 of tenant A\'s rows',
      'tenant B updated 1 of tenant A\'s rows',
      'tenant B deleted 1 of tenant A\'s rows',
      'tenant B inserted a row claiming tenant A\'s id',
      'a transaction with no tenant set read 1 of tenant A\'s rows',
      expect.stringMatching(/^tenant A's row changed under tenant B: /),
    ]);
  });

  it('goes red on a table with no policy and row-level security off', async () => {
    const table = broken.get('scratch.no_policy')!;
    expect(await auditTable(pool, table, false)).toEqual([
      'has row-level security disabled',
      `has no permissive policy for ${APP_ROLE}`,
    ]);
    expect(await probeTable(pool, db, table)).toContain('tenant B read 1 of tenant A\'s rows');
  });

  it('goes red on a tenant condition widened with OR', async () => {
    const table = broken.get('scratch.widened')!;
    expect(await auditTable(pool, table, false)).toEqual([
      expect.stringMatching(/^policy tenant_isolation \(ALL\) widens its USING \(.+\) with OR$/),
      expect.stringMatching(/^policy tenant_isolation \(ALL\) widens its WITH CHECK \(.+\) with OR$/),
    ]);
    // The generated note starts with 'w', so the OR lets tenant B in.
    expect(await probeTable(pool, db, table)).toContain('tenant B read 1 of tenant A\'s rows');
  });

  it('goes red on row-level security with no policy (nothing a tenant could use)', async () => {
    const table = broken.get('scratch.enabled_no_policy')!;
    expect(await auditTable(pool, table, false)).toEqual([`has no permissive policy for ${APP_ROLE}`]);
    expect(await probeTable(pool, db, table)).toEqual([expect.stringMatching(/^tenant A could not write its own row through gatehouse_app: new row violates row-level security/)]);
  });

  it('goes red on a table left out of FORCE when the others are forced', async () => {
    const table = broken.get('scratch.open_policy')!;
    expect(await auditTable(pool, table, true)).toContain('is not FORCEd while other tenant tables are');
  });
});
