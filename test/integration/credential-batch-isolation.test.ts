import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVerifier, MAX_USERNAME_CHARS } from '../../src/auth/credential-verifier.js';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { DeviceRegistry, type RegisteredDevice } from '../../src/core/devices/device-registry.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import type { Database } from '../../src/db/database.js';
import { createTestDatabase } from '../support/database.js';
import { makeTenant } from '../support/fixtures.js';

/** One bad username in a batch of CONNECTs never costs the others their answer. */
describe('credential lookups with a malformed username in the batch', () => {
  let db: Database;
  let close: () => Promise<void>;
  let good: RegisteredDevice[];

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    const devices = new DeviceRegistry(db, new AccessPolicy(db));
    const [a, b] = [await makeTenant(db, 'batch-a'), await makeTenant(db, 'batch-b')];
    good = await Promise.all([
      devices.register(a.operator, { name: 'one' }), devices.register(a.operator, { name: 'two' }),
      devices.register(b.operator, { name: 'one' }), devices.register(b.operator, { name: 'two' }),
    ]);
  });
  afterAll(() => close());

  const code = (promise: Promise<unknown>) => promise.then(() => 'accepted', (error: { code?: string }) => error.code ?? String(error));

  /** The database as the verifier sees it, counting its queries and, when asked, changing the usernames it sends. */
  function observed(rewrite: (username: string) => string = (username) => username) {
    const seen = { queries: 0, batches: [] as string[][] };
    const proxy = new Proxy(db, {
      get: (target, key) => (key === 'platformQuery'
        ? (sql: string, [usernames]: [string[]]) => {
          seen.queries++;
          seen.batches.push([...usernames]);
          return target.platformQuery(sql, [usernames.map(rewrite)]);
        }
        : Reflect.get(target, key)),
    });
    return { db: proxy, seen };
  }

  it('refuses NUL, invalid UTF-8, lone surrogates and over-long names as bad credentials without asking Postgres', async () => {
    const { db: counted, seen } = observed();
    const limiter = new FailureLimiter();
    const verifier = new CredentialVerifier(counted, limiter);
    const malformed = [`one\u0000@batch`, 'one\uFFFD@batch', 'one\uD800@batch', 'x'.repeat(MAX_USERNAME_CHARS + 1)];
    const answers = await Promise.all([
      ...malformed.map((username) => code(verifier.verify(username, 'gd_whatever'))),
      ...good.map((device) => code(verifier.verify(device.username, device.password))),
    ]);
    expect(answers).toEqual([...malformed.map(() => 'INVALID_CREDENTIALS'), ...good.map(() => 'accepted')]);
    expect(seen.batches.flat().sort()).toEqual(good.map((device) => device.username).sort());
    // Refused like an unknown name: argon2 ran against nothing (once each), and the failure counts toward the lockout.
    expect(verifier.stats.argon2).toBe(good.length + malformed.length);
    expect(await code(verifier.verifyCertificate('one\u0000@batch'))).toBe('INVALID_CREDENTIALS');
  });

  it('answers the good keys of a batch that Postgres refuses for a data error, looking them up one by one', async () => {
    // "poison" passes the verifier's own checks; on the way out it becomes a value Postgres refuses (SQLSTATE 22021).
    const { db: poisoned, seen } = observed((username) => (username === 'poison@batch' ? 'poi\u0000son@batch' : username));
    const verifier = new CredentialVerifier(poisoned, new FailureLimiter());
    const answers = await Promise.all([
      code(verifier.verify(good[0]!.username, good[0]!.password)),
      code(verifier.verify('poison@batch', 'gd_whatever')),
      ...good.slice(1).map((device) => code(verifier.verify(device.username, device.password))),
      code(verifier.verify(good[3]!.username, 'gd_wrong')),
    ]);
    expect(answers).toEqual(['accepted', 'INVALID_CREDENTIALS', 'accepted', 'accepted', 'accepted', 'INVALID_CREDENTIALS']);
    // One batch that failed, then each of its keys alone.
    expect(seen.batches[0]).toHaveLength(6);
    expect(seen.batches.slice(1).every((batch) => batch.length === 1)).toBe(true);
    expect(seen.queries).toBe(1 + 6);
  });

  it('lets a failure that is not about the data fail the batch as it is', async () => {
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), { code: '08006' });
    const failing = new Proxy(db, { get: (target, key) => (key === 'platformQuery' ? () => Promise.reject(lost) : Reflect.get(target, key)) });
    const verifier = new CredentialVerifier(failing, new FailureLimiter());
    const answers = await Promise.all(good.map((device) => verifier.verify(device.username, device.password).catch((error: unknown) => error)));
    expect(answers.every((answer) => answer === lost)).toBe(true);
  });
});
