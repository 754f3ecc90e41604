import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { expectedMigrations, migrate } from '../../src/db/migrate.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';

describe('migrations', () => {
  it('are safe when two processes start at once: one applies, the other waits and finds nothing to do', async () => {
    const url = await createEmptyDatabase();
    const [first, second] = await Promise.all([migrate(url, silentLog), migrate(url, silentLog)]);
    const expected = await expectedMigrations();
    expect([...first, ...second].sort()).toEqual(expected);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT name FROM pgmigrations ORDER BY run_on');
      expect(rows.map((row) => row.name)).toEqual(expected);
      expect(await migrate(url, silentLog)).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('give every tenant-owned table tenant_id NOT NULL and a row-level security policy', async () => {
    const url = await createEmptyDatabase();
    await migrate(url, silentLog);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string; is_nullable: string; rls: boolean; policies: number }>(`
        SELECT c.table_name, c.is_nullable, k.relrowsecurity AS rls,
               (SELECT count(*)::int FROM pg_policies p WHERE p.tablename = c.table_name) AS policies
          FROM information_schema.columns c JOIN pg_class k ON k.relname = c.table_name
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND k.relkind IN ('r', 'p')`);
      expect(rows.length).toBeGreaterThanOrEqual(15);
      for (const row of rows) {
        expect(row.rls, row.table_name).toBe(true);
        expect(row.policies, row.table_name).toBeGreaterThan(0);
        // Platform events and platform-admin sessions have no tenant; tenants never see those rows.
        if (!['security_events', 'refresh_tokens'].includes(row.table_name)) expect(row.is_nullable, row.table_name).toBe('NO');
      }
    } finally {
      await client.end();
    }
  });
});
