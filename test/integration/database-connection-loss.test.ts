import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/core/errors.js';
import { createTestDatabase } from '../support/database.js';

describe('a pooled connection whose server goes away', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.close());

  it('fails only the work on it, as DATABASE_UNAVAILABLE, even while it is checked out between two queries', async () => {
    const { db } = database;
    // The backend is ended while the transaction holds its connection and runs no query: node-postgres then
    // emits 'error' on the client itself, which crashed the process when nobody listened (only idle clients had a listener).
    const failure = await db.withPlatform(async (tx) => {
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ended = new Promise((resolve) => (tx as unknown as NodeJS.EventEmitter).once('end', resolve));
      await db.platformQuery('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await ended;
      return tx.query('SELECT 1');
    }).catch((error: unknown) => error);
    expect(hasCode(failure, 'DATABASE_UNAVAILABLE')).toBe(true);
    // The pool replaced the connection: the next transaction works.
    expect(await db.withPlatform(async (tx) => (await tx.query('SELECT 1 AS one')).rows)).toEqual([{ one: 1 }]);
  });
});
