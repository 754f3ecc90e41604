import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.js';

describe('Tx.afterCommit', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let observer: pg.Client;
  beforeAll(async () => {
    database = await createTestDatabase();
    observer = new pg.Client({ connectionString: database.url });
    await observer.connect();
  });
  afterAll(async () => {
    await observer.end();
    await database.close();
  });

  it('runs once the transaction has committed: another connection already sees the row', async () => {
    const slug = `after-commit-${process.pid}`;
    let seen: number | undefined;
    let ran: Promise<void> | undefined;
    await database.db.withPlatform(async (tx) => {
      await tx.query('INSERT INTO tenants (slug, name) VALUES ($1, $1)', [slug]);
      tx.afterCommit(() => {
        ran = observer.query('SELECT count(*)::int AS n FROM tenants WHERE slug = $1', [slug]).then(({ rows }) => void (seen = rows[0].n));
      });
      expect(ran).toBeUndefined(); // not yet: the transaction is still open
    });
    await ran;
    expect(seen).toBe(1);
  });

  it('never runs for a transaction that rolled back', async () => {
    let ran = false;
    const failure = await database.db.withPlatform(async (tx) => {
      tx.afterCommit(() => (ran = true));
      await tx.query('SELECT 1/0');
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(ran).toBe(false);
  });
});
