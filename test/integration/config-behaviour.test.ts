import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { loadConfig } from '../../src/config.js';
import { createTenant } from '../../src/core/tenants.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded-postgres.js';
import { expectedMigrations } from '../../src/db/migrate.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';
import { call } from '../support/gateway.js';
import { exitOf, waitFor } from '../support/processes.js';
import { stallingProxy } from '../support/stalling-proxy.js';
import { spawnUrlGateway } from '../support/url-gateway.js';

async function asSuperuser<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

function withCredentials(serverUrl: string, user: string, password: string, database: string): string {
  const url = new URL(serverUrl);
  url.username = user;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
}

describe('SHUTDOWN_TIMEOUT_MS', () => {
  it('a shutdown that cannot finish in time (PostgreSQL hangs) exits non-zero, saying it took too long', async () => {
    const url = new URL(await createEmptyDatabase());
    const proxy = await stallingProxy({ host: url.hostname, port: Number(url.port) });
    url.host = `127.0.0.1:${proxy.port}`;
    const gw = await spawnUrlGateway(url.toString(), { SHUTDOWN_TIMEOUT_MS: '500' });
    try {
      proxy.stall();
      // A request now waits on the database for ever, and so does closing the pool: shutdown cannot finish.
      const login = call(gw.base, 'POST', '/v1/auth/login', { body: { email: 'nobody@example.test', password: 'a long enough password' } }).catch(() => 'cut off');
      await waitFor(async () => (proxy.heldBytes() > 0 ? true : undefined), 10_000, 'the login query to reach the stalled database');
      gw.process.kill('SIGTERM');
      const exit = await exitOf(gw.process);
      expect(exit, gw.process.output()).toEqual({ code: 1, signal: null });
      expect(gw.process.output()).toContain('shutdown took too long');
      expect(gw.process.output()).not.toContain('gatehouse stopped');
      expect(await login).toBe('cut off');
    } finally {
      await gw.stop();
      await proxy.close();
    }
  });
});

/**
 * README: with DATABASE_URL, the user must own the database and be allowed to
 * create the gatehouse_app role (or have it created beforehand and granted to
 * it). Neither needs to be a superuser; tenant transactions still run under
 * row-level security.
 */
describe('a DATABASE_URL whose user is not a superuser', () => {
  /** Starts the gateway in this process on `url`, and shows it migrated and that one tenant's transaction sees none of another's rows. */
  async function startsMigratesAndKeepsTenantsApart(url: string, user: string): Promise<void> {
    let gateway: Gateway | undefined;
    try {
      gateway = await startGateway(loadConfig({ DATABASE_URL: url, HTTP_PORT: '0', MQTT_PORT: '0', MQTTS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), silentLog);
      const base = `http://127.0.0.1:${gateway.httpPort}`;
      expect((await call(base, 'GET', '/readyz')).status).toBe(200);
      const db = gateway.core.db;
      const [me] = await db.platformQuery<{ name: string; rolsuper: boolean }>('SELECT rolname AS name, rolsuper FROM pg_roles WHERE rolname = current_user', []);
      expect(me).toEqual({ name: user, rolsuper: false });
      const applied = await db.platformQuery<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name', []);
      expect(applied.map((row) => row.name)).toEqual(await expectedMigrations());

      const [a, b] = [await createTenant(db, { slug: 'tenant-a' }), await createTenant(db, { slug: 'tenant-b' })];
      const [ctxA, ctxB] = [await operatorContext(db, a.slug), await operatorContext(db, b.slug)];
      await gateway.core.devices.register(ctxA, { name: 'sensor-a' });
      await gateway.core.devices.register(ctxB, { name: 'sensor-b' });
      const seenByA = await db.withTenant(ctxA, async (tx) => (await tx.query<{ tenant_id: string; name: string }>('SELECT tenant_id, name FROM devices')).rows);
      expect(seenByA).toEqual([{ tenant_id: a.id, name: 'sensor-a' }]);
      const bAsked = await db.withTenant(ctxA, async (tx) => (await tx.query('SELECT 1 FROM devices WHERE tenant_id = $1', [b.id])).rowCount);
      expect(bAsked).toBe(0);
      const touched = await db.withTenant(ctxA, async (tx) => (await tx.query(`UPDATE devices SET status = 'revoked' WHERE tenant_id = $1`, [b.id])).rowCount);
      expect(touched).toBe(0);
      // The owner itself (outside tenant transactions) sees both: the wall is the role, not a missing row.
      expect(await db.platformQuery('SELECT 1 FROM devices', [])).toHaveLength(2);
    } finally {
      await gateway?.close();
    }
  }

  // The migration creates and grants the role only when it must: an owner without CREATEROLE could not before.
  it('with gatehouse_app created beforehand and granted to it: starts, migrates, and row-level security holds', async () => {
    const serverUrl = inject('pgServerUrl');
    const suffix = randomBytes(4).toString('hex');
    const [user, password, database] = [`gh_owner_${suffix}`, randomBytes(12).toString('hex'), `gh_owned_${suffix}`];
    await asSuperuser(serverUrl, async (admin) => {
      await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}' NOSUPERUSER NOCREATEROLE NOCREATEDB`);
      await admin.query(`CREATE DATABASE ${database} OWNER ${user}`);
      // Other test databases on this server may have made it already; role names are cluster-wide.
      await admin.query(`DO $$ BEGIN CREATE ROLE gatehouse_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
      await admin.query(`GRANT gatehouse_app TO ${user}`);
    });
    await startsMigratesAndKeepsTenantsApart(withCredentials(serverUrl, user, password, database), user);
  });

  describe('on a server where gatehouse_app does not exist yet', () => {
    let dataDir: string;
    let server: EmbeddedServer;

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-nonsuper-'));
      // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
      await chmod(dataDir, 0o755);
      server = await startEmbeddedPostgres(dataDir, silentLog, { adoptOrphan: false });
    }, 90_000);
    afterAll(async () => {
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }, 60_000);

    it('with CREATEROLE: starts, creates gatehouse_app, migrates, and row-level security holds', async () => {
      const [user, password] = ['gh_owner', randomBytes(12).toString('hex')];
      await asSuperuser(server.connectionString, async (admin) => {
        expect((await admin.query(`SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_app'`)).rowCount).toBe(0);
        await admin.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}' NOSUPERUSER CREATEROLE NOCREATEDB`);
        await admin.query(`CREATE DATABASE gh_owned OWNER ${user}`);
      });
      await startsMigratesAndKeepsTenantsApart(withCredentials(server.connectionString, user, password, 'gh_owned'), user);
    });
  });
});
