import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppCredential } from '../../src/auth/app-credentials.js';
import { CredentialVerifier } from '../../src/auth/credential-verifier.js';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { hashSecret } from '../../src/auth/secrets.js';
import { DeviceRegistry } from '../../src/core/devices/device-registry.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import type { Database } from '../../src/db/database.js';
import { createTestDatabase } from '../support/database.js';
import { makeTenant } from '../support/fixtures.js';

describe('device and app credentials, with the verification cache', () => {
  let db: Database;
  let close: () => Promise<void>;
  let devices: DeviceRegistry;
  let tenant: Awaited<ReturnType<typeof makeTenant>>;

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    devices = new DeviceRegistry(db, new AccessPolicy(db));
    tenant = await makeTenant(db, 'creds');
  });
  afterAll(() => close());

  const code = (promise: Promise<unknown>) => promise.then(() => 'accepted', (error: { code?: string }) => error.code ?? String(error));

  it('turns a device credential into a device context on the iot channel', async () => {
    const device = await devices.register(tenant.operator, { name: 'meter-1' });
    const verifier = new CredentialVerifier(db, new FailureLimiter());
    const verified = await verifier.verify(device.username, device.password);
    expect(verified).toMatchObject({ kind: 'device', deviceName: 'meter-1' });
    expect(verified.ctx).toMatchObject({ tenantId: tenant.id, principal: { kind: 'device', id: device.id }, channel: 'iot', roles: [] });
    expect([...verified.ctx.scopes].sort()).toEqual(['command.receive', 'telemetry.publish']);
  });

  it('hashes device secrets as generated secrets (argon2id, 1 MiB, 1 pass), registered in a batch or rotated, and still verifies a hash made as a password', async () => {
    const [batched] = await devices.registerBatch(tenant.operator, [{ name: 'meter-gen-1' }]);
    await devices.register(tenant.operator, { name: 'meter-gen-2' });
    const rotated = await devices.rotateSecret(tenant.operator, 'meter-gen-2');
    const stored = await db.platformQuery<{ name: string; secret_hash: string }>(`SELECT name, secret_hash FROM devices WHERE name LIKE 'meter-gen-%' ORDER BY name`, []);
    expect(stored.map((row) => [row.name, row.secret_hash.split('$').slice(1, 4).join('$')])).toEqual([
      ['meter-gen-1', 'argon2id$v=19$m=1024,p=1,t=1'], ['meter-gen-2', 'argon2id$v=19$m=1024,p=1,t=1'],
    ]);
    const verifier = new CredentialVerifier(db, new FailureLimiter());
    expect(await code(verifier.verify(batched!.username, batched!.password))).toBe('accepted');
    expect(await code(verifier.verify(rotated.username, rotated.password))).toBe('accepted');
    // A device registered before: its hash carries the passwords' parameters, which verification reads from it.
    await db.platformQuery('UPDATE devices SET secret_hash = $2 WHERE name = $1', ['meter-gen-1', await hashSecret(batched!.password)]);
    expect((await db.platformQuery<{ h: string }>(`SELECT secret_hash AS h FROM devices WHERE name = 'meter-gen-1'`, []))[0]!.h).toContain('m=19456,p=1,t=2');
    expect(await code(new CredentialVerifier(db, new FailureLimiter()).verify(batched!.username, batched!.password))).toBe('accepted');
  });

  it('answers a wrong secret and an unknown username alike', async () => {
    const device = await devices.register(tenant.operator, { name: 'meter-2' });
    const verifier = new CredentialVerifier(db, new FailureLimiter());
    expect(await code(verifier.verify(device.username, 'gd_wrong'))).toBe('INVALID_CREDENTIALS');
    expect(await code(verifier.verify('nobody@nowhere', device.password))).toBe('INVALID_CREDENTIALS');
  });

  it('spends argon2 once, then answers from the cache', async () => {
    const device = await devices.register(tenant.operator, { name: 'meter-3' });
    const verifier = new CredentialVerifier(db, new FailureLimiter());
    for (let i = 0; i < 5; i++) await verifier.verify(device.username, device.password);
    expect(verifier.stats).toEqual({ argon2: 1, cached: 4 });
    // A wrong secret is never answered from the cache.
    expect(await code(verifier.verify(device.username, `${device.password}x`))).toBe('INVALID_CREDENTIALS');
    expect(verifier.stats.argon2).toBe(2);
  });

  it('spends argon2 once for connections presenting the same secret together, known username or not, and once more for a wrong one among them', async () => {
    const app = await createAppCredential(db, new AccessPolicy(db), tenant.operator, { name: 'shared-panel', subscribe: ['devices/#'] });
    const verifier = new CredentialVerifier(db, new FailureLimiter());
    const answers = await Promise.all([
      ...Array.from({ length: 20 }, () => code(verifier.verify(app.username, app.password))),
      code(verifier.verify(app.username, `${app.password}x`)),
    ]);
    expect(answers).toEqual([...Array.from({ length: 20 }, () => 'accepted'), 'INVALID_CREDENTIALS']);
    expect(verifier.stats).toEqual({ argon2: 2, cached: 0 });
    // An unknown username costs as a known one does (its timing must not tell them apart): one check against nothing for the burst.
    const unknown = await Promise.all(Array.from({ length: 10 }, () => code(verifier.verify('app:nobody@creds', app.password))));
    expect(unknown).toEqual(Array.from({ length: 10 }, () => 'INVALID_CREDENTIALS'));
    expect(verifier.stats.argon2).toBe(3);
  });

  it('never accepts a changed secret\'s old value, nor a revoked device, from the cache', async () => {
    const device = await devices.register(tenant.operator, { name: 'meter-4' });
    const verifier = new CredentialVerifier(db, new FailureLimiter());
    await verifier.verify(device.username, device.password);
    const rotated = await devices.rotateSecret(tenant.operator, 'meter-4');
    expect(await code(verifier.verify(device.username, device.password))).toBe('INVALID_CREDENTIALS');
    expect(await code(verifier.verify(device.username, rotated.password))).toBe('accepted');
    await devices.setStatus(tenant.operator, 'meter-4', 'revoked');
    expect(await code(verifier.verify(device.username, rotated.password))).toBe('ACCOUNT_SUSPENDED');
    await devices.setStatus(tenant.operator, 'meter-4', 'suspended');
    expect(await code(verifier.verify(device.username, rotated.password))).toBe('ACCOUNT_SUSPENDED');
  });

  it('locks a username after repeated failures', async () => {
    const device = await devices.register(tenant.operator, { name: 'meter-5' });
    const verifier = new CredentialVerifier(db, new FailureLimiter({ mqtt: { maxFailures: 3, windowMs: 60_000, lockMs: 60_000 } }));
    for (let i = 0; i < 3; i++) expect(await code(verifier.verify(device.username, 'gd_wrong'))).toBe('INVALID_CREDENTIALS');
    expect(await code(verifier.verify(device.username, device.password))).toBe('RATE_LIMITED');
  });

  it('turns an app credential into an app context with its topic filters', async () => {
    const app = await createAppCredential(db, new AccessPolicy(db), tenant.operator, { name: 'bench', subscribe: ['devices/+/telemetry'], denyPublish: ['#'] });
    const verified = await new CredentialVerifier(db, new FailureLimiter()).verify(app.username, app.password);
    expect(verified).toMatchObject({
      kind: 'app', appName: 'bench',
      filters: { publish: ['#'], subscribe: ['devices/+/telemetry'], denyPublish: ['#'], denySubscribe: [] },
    });
    expect(verified.ctx).toMatchObject({ principal: { kind: 'app', id: app.id }, channel: 'automation' });
  });

  it('reads the rows of CONNECTs that arrive together in one query, each answered on its own row, and keeps nothing', async () => {
    const good = await Promise.all(['storm-1', 'storm-2', 'storm-3'].map((name) => devices.register(tenant.operator, { name })));
    const suspended = await devices.register(tenant.operator, { name: 'storm-4' });
    await devices.setStatus(tenant.operator, 'storm-4', 'suspended');
    let queries = 0;
    const counting = new Proxy(db, {
      get: (target, key) => (key === 'platformQuery' ? (...args: Parameters<Database['platformQuery']>) => { queries++; return target.platformQuery(...args); } : Reflect.get(target, key)),
    });
    const verifier = new CredentialVerifier(counting, new FailureLimiter());

    const answers = await Promise.all([
      ...good.map((device) => code(verifier.verify(device.username, device.password))),
      code(verifier.verify(good[0]!.username, 'gd_wrong')),
      code(verifier.verify(suspended.username, suspended.password)),
      code(verifier.verify('nobody@nowhere', 'gd_x')),
    ]);
    expect(answers).toEqual(['accepted', 'accepted', 'accepted', 'INVALID_CREDENTIALS', 'ACCOUNT_SUSPENDED', 'INVALID_CREDENTIALS']);
    expect(queries).toBe(1);

    await devices.setStatus(tenant.operator, 'storm-1', 'suspended');
    expect(await code(verifier.verify(good[0]!.username, good[0]!.password))).toBe('ACCOUNT_SUSPENDED');
    expect(queries).toBe(2);
  });
});
