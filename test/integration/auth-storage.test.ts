import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppCredential } from '../../src/auth/app-credentials.js';
import { operatorContext } from '../../src/auth/operator.js';
import type { Core } from '../../src/core/create-core.js';
import { createTenant } from '../../src/core/tenants.js';
import { createEmptyDatabase } from '../support/database.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';
import { runCli } from '../support/processes.js';
import { spawnUrlGateway, type UrlGateway } from '../support/url-gateway.js';

const PASSWORD = 'correct horse battery';
/** The PHC string argon2id writes (https://github.com/P-H-C/phc-string-format): algorithm, version 19 (0x13), parameters, salt, hash. */
const ARGON2ID = /^\$argon2id\$v=19\$(?:[mtp]=\d+,?){3}\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
type Pair = { access_token: string };
type Jwks = { keys: { kid: string; x: string; y: string }[] };

const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };

/** A stored secret: an argon2id hash of exactly that secret, with the secret itself nowhere in the row. */
async function expectArgon2idOf(row: Record<string, unknown>, column: string, secret: string): Promise<void> {
  const hash = row[column] as string;
  expect(hash).toMatch(ARGON2ID);
  expect(JSON.stringify(row)).not.toContain(secret);
  expect(await argon2.verify(hash, secret)).toBe(true);
  expect(await argon2.verify(hash, `${secret}x`)).toBe(false);
}

describe('auth: what is stored, and what takes effect', () => {
  let t: TestGateway;
  let core: Core;

  beforeAll(async () => {
    // A short session cache: a role change must show within it (README: AUTH_SESSION_CACHE_MS).
    t = await startTestGateway({ AUTH_SESSION_CACHE_MS: '100' });
    core = t.gateway.core;
    await createTenant(core.db, { slug: 'vault' });
  });
  afterAll(() => t?.close());

  const rowOf = async (sql: string, params: unknown[]) => (await core.db.platformQuery<Record<string, unknown>>(sql, params))[0]!;

  it('passwords (members and platform administrators) are stored as argon2id hashes', async () => {
    const member = await core.auth.members.add(await operatorContext(core.db, 'vault'), { email: 'member@vault.test', password: PASSWORD, role: 'member' });
    await expectArgon2idOf(await rowOf('SELECT * FROM users WHERE id = $1', [member.id]), 'password_hash', PASSWORD);
    const adminPassword = 'a long platform passphrase';
    const admin = await core.auth.members.createPlatformAdmin('root@vault.test', adminPassword);
    await expectArgon2idOf(await rowOf('SELECT * FROM users WHERE id = $1', [admin.id]), 'password_hash', adminPassword);
  });

  it('app secrets are stored as argon2id hashes', async () => {
    const app = await createAppCredential(core.db, core.policy, await operatorContext(core.db, 'vault'), { name: 'hash-app' });
    expect(app.password).toMatch(/^ga_/);
    await expectArgon2idOf(await rowOf('SELECT * FROM app_credentials WHERE id = $1', [app.id]), 'secret_hash', app.password);
  });

  it('OAuth client secrets are stored as argon2id hashes', async () => {
    const client = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: ['https://oauth-redirect.googleusercontent.com/r/vault'] });
    expect(client.clientSecret).toMatch(/^gs_/);
    await expectArgon2idOf(await rowOf('SELECT * FROM oauth_clients WHERE client_id = $1', [client.clientId]), 'secret_hash', client.clientSecret);
  });

  it('a role lowered in the database takes effect on an access token already issued, within seconds', async () => {
    await core.devices.register(await operatorContext(core.db, 'vault'), { name: 'fan', capabilities: [{ name: 'restart' }] });
    const member = await core.auth.members.add(await operatorContext(core.db, 'vault'), { email: 'demoted@vault.test', password: PASSWORD, role: 'member' });
    const login = await call<Pair>(t.base, 'POST', '/v1/auth/login', { body: { email: 'demoted@vault.test', password: PASSWORD } });
    expect(login.status).toBe(200);
    const command = () => call<{ error?: { code: string } }>(t.base, 'POST', '/v1/devices/fan/commands', { token: login.body.access_token, body: { name: 'restart' } });
    // A member may command the device (device.command needs member); a viewer may not.
    expect((await command()).status).toBe(201);
    await core.db.withPlatform((tx) => tx.query(`UPDATE memberships SET role = 'viewer' WHERE user_id = $1`, [member.id]));
    await expect.poll(async () => {
      const response = await command();
      return `${response.status} ${response.body.error?.code ?? ''}`;
    }, { timeout: 10_000, interval: 50 }).toBe('403 POLICY_DENIED');
    // Reads a viewer may do still work with the same token.
    expect((await call(t.base, 'GET', '/v1/devices', { token: login.body.access_token })).status).toBe(200);
  });
});

describe('signing keys across a restart', () => {
  // The same database, two gateway processes one after the other; a fixed PUBLIC_URL, so the issuer is the same too.
  const PUBLIC_URL = 'https://gatehouse.example.test';
  let databaseUrl: string;
  let gw: UrlGateway | undefined;

  beforeAll(async () => {
    databaseUrl = await createEmptyDatabase();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a token issued before a restart verifies after it, and the JWKS and new tokens keep the same kid', async () => {
    gw = await spawnUrlGateway(databaseUrl, { PUBLIC_URL });
    for (const args of [['tenant', 'create', 'keep'], ['user', 'create', '--tenant', 'keep', '--email', 'ops@keep.test', '--password', PASSWORD, '--role', 'owner']]) {
      const result = await runCli([...args, '--json'], gw.env);
      expect(result.code, result.stdout + result.stderr).toBe(0);
    }
    const before = await call<Pair>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'ops@keep.test', password: PASSWORD } });
    expect(before.status).toBe(200);
    const { kid } = headerOf(before.body.access_token);
    const jwksBefore = (await call<Jwks>(gw.base, 'GET', '/.well-known/jwks.json')).body.keys;
    expect(jwksBefore.map((key) => key.kid)).toContain(kid);

    expect(await gw.stop(), gw.process.output()).toEqual({ code: 0, signal: null });
    gw = await spawnUrlGateway(databaseUrl, { PUBLIC_URL });

    const me = await call(gw.base, 'GET', '/v1/me', { token: before.body.access_token });
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body).toMatchObject({ user: { email: 'ops@keep.test' } });
    // The same key, not a new one that happens to carry the old name.
    const jwksAfter = (await call<Jwks>(gw.base, 'GET', '/.well-known/jwks.json')).body.keys;
    expect(jwksAfter).toEqual(jwksBefore);
    const after = await call<Pair>(gw.base, 'POST', '/v1/auth/login', { body: { email: 'ops@keep.test', password: PASSWORD } });
    expect(headerOf(after.body.access_token).kid).toBe(kid);
  }, 120_000);
});
