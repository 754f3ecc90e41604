import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { expectedMigrations, migrate } from '../../src/db/migrate.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';

/** A client on a freshly migrated database, closed after `use`. */
async function withMigratedClient(use: (client: pg.Client) => Promise<void>): Promise<void> {
  const url = await createEmptyDatabase();
  await migrate(url, silentLog);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await use(client);
  } finally {
    await client.end();
  }
}

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

  // Row-level security on every tenant table, with what it must hold, is checked in tenant-wall.test.ts.

  it('keep a removed device\'s telemetry (until retention or a purge) and remove a tenant\'s with the tenant (no per-row foreign key on telemetry)', () =>
    withMigratedClient(async (client) => {
      const tenant = async (slug: string) => (await client.query<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, [slug])).rows[0]!.id;
      const device = async (tenantId: string, name: string) =>
        (await client.query<{ id: string }>(`INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, $2, $3, 'x') RETURNING id`, [tenantId, name, `${tenantId}.${name}`])).rows[0]!.id;
      const [a, b] = [await tenant('tenant-a'), await tenant('tenant-b')];
      const [a1, a2, b1] = [await device(a, 'one'), await device(a, 'two'), await device(b, 'one')];
      for (const [tenantId, deviceId] of [[a, a1], [a, a1], [a, a2], [b, b1]]) {
        await client.query(`INSERT INTO telemetry (tenant_id, device_id, payload) VALUES ($1, $2, '{}')`, [tenantId, deviceId]);
      }
      const count = async () => (await client.query<{ device_id: string; n: number }>('SELECT device_id, count(*)::int AS n FROM telemetry GROUP BY device_id ORDER BY n DESC')).rows.map((r) => [r.device_id, r.n]);

      await client.query('DELETE FROM devices WHERE id = $1', [a1]);
      expect((await count()).sort()).toEqual([[a1, 2], [a2, 1], [b1, 1]].sort());
      await client.query('DELETE FROM tenants WHERE id = $1', [b]);
      expect((await count()).sort()).toEqual([[a1, 2], [a2, 1]].sort());
    }));
});
