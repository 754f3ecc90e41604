import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/core/errors.js';
import { createTestDatabase } from '../support/database.js';
import { waitFor } from '../support/processes.js';

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
      const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await db.platformQuery('SELECT pg_terminate_backend($1)', [pid]);
      // The backend said FATAL before it exited: once another connection sees it gone, that message has
      // reached this idle connection too (the 'error' nobody listened for, before).
      await waitFor(async () => ((await db.platformQuery('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).length === 0 ? true : undefined), 10_000, 'the backend to exit');
      return tx.query('SELECT 1');
    }).catch((error: unknown) => error);
    expect(hasCode(failure, 'DATABASE_UNAVAILABLE'), String((failure as Error | undefined)?.stack ?? failure)).toBe(true);
    // The pool replaced the connection: the next transaction works.
    expect(await db.withPlatform(async (tx) => (await tx.query('SELECT 1 AS one')).rows)).toEqual([{ one: 1 }]);
  });
});
