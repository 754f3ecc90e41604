import { SignJWT, generateKeyPair, base64url } from 'jose';
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import type { Core } from '../../src/core/create-core.js';
import { createTenant } from '../../src/core/tenants.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';

type Pair = { access_token: string; refresh_token: string; token_type: string; expires_in: number };
type ErrorBody = { error: { code: string; message: string } };

const PASSWORD = 'correct horse battery';
/** How long the gateway may serve a session's live state from its cache: short, so that tests poll for a revocation briefly rather than wait out the production two seconds. */
const SESSION_CACHE_MS = 100;
/** How long a poll for a revocation may take before it is a failure: far beyond SESSION_CACHE_MS, for a loaded machine. */
const CUT_OFF = { timeout: 10_000, interval: 50 };

describe('auth: sessions, tokens, tenants, revocation', () => {
  let t: TestGateway;
  let core: Core;
  let base: string;
  let issuer: string;
  const ids: Record<string, string> = {};

  async function login(email: string, extra: Record<string, unknown> = {}): Promise<Pair> {
    const response = await call<Pair>(base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, ...extra } });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body;
  }

  async function member(tenant: string, email: string, role: 'owner' | 'admin' | 'member' | 'viewer') {
    const added = await core.auth.members.add(await operatorContext(core.db, tenant), { email, password: PASSWORD, role });
    ids[email] = added.id;
  }

  /** A user of the test's own (a unique address), for tests that lock, remove, suspend or change them: no other test sees it. */
  async function freshMember(role: 'owner' | 'admin' | 'member' | 'viewer', tenants: string[] = ['acme']): Promise<{ email: string; id: string }> {
    const email = `user-${randomBytes(4).toString('hex')}@acme.test`;
    for (const tenant of tenants) await member(tenant, email, role);
    return { email, id: ids[email]! };
  }

  async function freshPlatformAdmin(): Promise<{ email: string; id: string }> {
    const email = `root-${randomBytes(4).toString('hex')}@platform.test`;
    const admin = await core.auth.members.createPlatformAdmin(email, PASSWORD);
    return { email, id: admin.id };
  }

  /** The status of GET /v1/me with a token, polled by the tests that wait for a session to be cut off. */
  const meStatus = async (token: string, headers: Record<string, string> = {}) => (await call(base, 'GET', '/v1/me', { token, headers })).status;

  /** A token signed by the gateway's own current key, with claims of our choosing. */
  async function signWithGatewayKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
    const { kid, key } = core.auth.keys.signingKey();
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, ...header }).sign(key);
  }

  beforeAll(async () => {
    t = await startTestGateway({ AUTH_SESSION_CACHE_MS: String(SESSION_CACHE_MS) });
    core = t.gateway.core;
    base = t.base;
    // No PUBLIC_URL here: the issuer is the address the gateway actually listens on.
    issuer = `http://localhost:${t.gateway.httpPort}`;
    await createTenant(core.db, { slug: 'acme' });
    await createTenant(core.db, { slug: 'globex' });
    // Only read by the tests: those that change a user make their own (freshMember).
    await member('acme', 'alice@acme.test', 'owner');
    await member('globex', 'alice@acme.test', 'member');
    await member('globex', 'bob@globex.test', 'owner');
    await member('acme', 'dave@acme.test', 'viewer');
  });
  afterAll(() => t?.close());

  describe('login', () => {
    it('issues an ES256 access token and an opaque refresh token', async () => {
      const pair = await login('alice@acme.test');
      expect(pair).toEqual({ access_token: expect.any(String), refresh_token: expect.stringMatching(/^grt_/), token_type: 'Bearer', expires_in: 900 });
      const [header, payload] = pair.access_token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      expect(header).toMatchObject({ alg: 'ES256', kid: core.auth.keys.signingKey().kid });
      expect(payload).toMatchObject({ sub: ids['alice@acme.test'], channel: 'web', scopes: expect.arrayContaining(['device.read']), jti: expect.any(String), sid: expect.any(String) });
      expect(payload.tenants).toHaveLength(2);
      expect(payload.exp - payload.iat).toBe(900);
    });

    it('GET /v1/me names the user, the active tenant, roles, channel and scopes', async () => {
      const { access_token } = await login('alice@acme.test', { channel: 'mobile' });
      const me = await call(base, 'GET', '/v1/me', { token: access_token });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({
        user: { id: ids['alice@acme.test'], email: 'alice@acme.test' },
        tenant: { slug: 'acme' }, roles: ['owner'], channel: 'mobile', platformAdmin: false,
      });
    });

    it('says the same for a wrong password and an unknown account', async () => {
      const { email } = await freshMember('member');
      const wrong = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email, password: 'nope nope nope' } });
      const unknown = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email: 'nobody@acme.test', password: 'nope nope nope' } });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
    });

    it('locks an account after repeated failures, existing or not, and audits the lockout', async () => {
      const erin = (await freshMember('member')).email;
      const ghost = `ghost-${randomBytes(4).toString('hex')}@acme.test`;
      for (const email of [erin, ghost]) {
        for (let i = 0; i < 5; i++) {
          expect((await call(base, 'POST', '/v1/auth/login', { body: { email, password: 'wrong password' } })).status).toBe(401);
        }
        const locked = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } });
        expect(locked.status).toBe(429);
        expect(locked.body.error.code).toBe('RATE_LIMITED');
        expect(locked.body.error.message).toMatch(/Too many failed attempts; try again in \d+ s\./);
      }
      // Audited off the request path: polled for.
      const lockouts = () => core.db.withPlatform(async (tx) =>
        (await tx.query(`SELECT details->>'key' AS key FROM security_events WHERE event_type = 'LOCKOUT' AND details->>'key' = ANY($1) ORDER BY created_at`, [[`account:${erin}`, `account:${ghost}`]])).rows.map((row) => row.key));
      await expect.poll(lockouts, CUT_OFF).toEqual([`account:${erin}`, `account:${ghost}`]);
    });

    it('refuses bad bodies with a clear error', async () => {
      const broken = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: '{"email": "a@b.c", "pass' });
      expect(broken.status).toBe(400);
      expect(broken.body.error.code).toBe('BAD_REQUEST');
      const missing = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email: 'a@b.c' } });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('password') });
      const huge = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email: 'a@b.c', password: 'x'.repeat(300_000) } });
      expect(huge.status).toBe(413);
      expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    });
  });

  describe('access token verification', () => {
    let valid: string;
    beforeAll(async () => {
      valid = (await login((await freshMember('member')).email)).access_token;
    });

    async function rejected(token: string) {
      const response = await call<ErrorBody>(base, 'GET', '/v1/me', { token });
      return { status: response.status, code: response.body.error?.code, challenge: response.headers.get('www-authenticate') };
    }

    it('accepts the genuine token', async () => {
      expect((await call(base, 'GET', '/v1/me', { token: valid })).status).toBe(200);
    });

    it('asks for a token when there is none', async () => {
      expect(await rejected('')).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    });

    it('rejects alg: none', async () => {
      const [, payload] = valid.split('.');
      const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`;
      expect(await rejected(none)).toEqual({ status: 401, code: 'TOKEN_INVALID', challenge: 'Bearer realm="gatehouse"' });
    });

    it('rejects HS256 keyed with the public key (algorithm confusion)', async () => {
      const [headerPart, payload] = valid.split('.');
      const { kid } = JSON.parse(Buffer.from(headerPart!, 'base64url').toString());
      const publicJwk = core.auth.keys.jwks().keys.find((key) => key.kid === kid)!;
      for (const secret of [JSON.stringify(publicJwk), `${publicJwk.x}${publicJwk.y}`]) {
        const header = base64url.encode(JSON.stringify({ alg: 'HS256', kid, typ: 'JWT' }));
        const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        expect(await rejected(`${header}.${payload}.${signature}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
      }
    });

    it('rejects a kid it does not know and a key that is not its own', async () => {
      const claims = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString());
      const { privateKey } = await generateKeyPair('ES256');
      const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'not-a-key' }).sign(privateKey);
      expect(await rejected(unknownKid)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
      const stolenKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: core.auth.keys.signingKey().kid }).sign(privateKey);
      expect(await rejected(stolenKid)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    });

    it('rejects a tampered token', async () => {
      const [header, payload, signature] = valid.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forged = base64url.encode(JSON.stringify({ ...claims, scopes: [...claims.scopes, 'tenant.members.manage'] }));
      expect(await rejected(`${header}.${forged}.${signature}`)).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    });

    it('rejects an expired and a not-yet-valid token with TOKEN_EXPIRED', async () => {
      const claims = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString());
      const now = Math.floor(Date.now() / 1000);
      const expired = await signWithGatewayKey({ ...claims, iat: now - 3600, nbf: now - 3600, exp: now - 1800 });
      expect(await rejected(expired)).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
      const early = await signWithGatewayKey({ ...claims, iat: now, nbf: now + 3600, exp: now + 7200 });
      expect(await rejected(early)).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
    });

    it('rejects a token of another issuer or audience, even signed with its key', async () => {
      const claims = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString());
      expect(await rejected(await signWithGatewayKey({ ...claims, iss: 'https://evil.example' }))).toMatchObject({ code: 'TOKEN_INVALID' });
      expect(await rejected(await signWithGatewayKey({ ...claims, aud: 'someone-else' }))).toMatchObject({ code: 'TOKEN_INVALID' });
      expect(claims.iss).toBe(issuer);
    });
  });

  describe('refresh tokens', () => {
    it('rotate: each refresh answers a new pair and kills the old refresh token', async () => {
      const first = await login('dave@acme.test');
      const second = await call<Pair>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ access_token: expect.any(String), refresh_token: expect.stringMatching(/^grt_/), token_type: 'Bearer', expires_in: 900 });
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      const stored = await core.db.withPlatform(async (tx) => (await tx.query(`SELECT token_hash FROM refresh_tokens`)).rows);
      expect(stored.some((row) => JSON.stringify(row).includes(first.refresh_token.slice(4)))).toBe(false);
    });

    it('a replayed refresh token revokes the whole family, its access tokens too, and is audited', async () => {
      const first = await login('dave@acme.test');
      const second = (await call<Pair>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } })).body;
      const replay = await call<ErrorBody>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('TOKEN_REVOKED');
      const descendant = await call<ErrorBody>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: second.refresh_token } });
      expect(descendant.status).toBe(401);
      expect(descendant.body.error.code).toBe('TOKEN_REVOKED');
      await expect.poll(() => meStatus(second.access_token), CUT_OFF).toBe(401);
      const events = await core.db.withPlatform(async (tx) => (await tx.query(`SELECT user_id FROM security_events WHERE event_type = 'REFRESH_TOKEN_REUSE'`)).rows);
      expect(events.map((row) => row.user_id)).toContain(ids['dave@acme.test']);
    });

    it('an unknown refresh token is refused', async () => {
      const response = await call<ErrorBody>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: 'grt_made-up' } });
      expect(response.status).toBe(401);
      expect(response.body.error.code).toBe('TOKEN_INVALID');
    });

    it('logout ends the session: its access token and refresh token die', async () => {
      const pair = await login('dave@acme.test');
      expect((await call(base, 'POST', '/v1/auth/logout', { token: pair.access_token })).status).toBe(204);
      const refreshed = await call<ErrorBody>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: pair.refresh_token } });
      expect(refreshed.body.error.code).toBe('TOKEN_REVOKED');
      await expect.poll(() => meStatus(pair.access_token), CUT_OFF).toBe(401);
    });
  });

  describe('tenants', () => {
    it('X-Active-Tenant switches to another of the token\'s memberships, with that tenant\'s role', async () => {
      const { access_token } = await login('alice@acme.test');
      const me = await call(base, 'GET', '/v1/me', { token: access_token, headers: { 'x-active-tenant': 'globex' } });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ tenant: { slug: 'globex' }, roles: ['member'] });
    });

    it('X-Active-Tenant naming a tenant the token is not a member of is 403 TENANT_FORBIDDEN', async () => {
      const { access_token } = await login('bob@globex.test');
      const acme = (await call<{ tenants: { id: string }[] }>(base, 'GET', '/v1/me', { token: (await login('alice@acme.test')).access_token })).body.tenants[0]!.id;
      for (const tenant of ['acme', acme]) {
        const response = await call<ErrorBody>(base, 'GET', '/v1/me', { token: access_token, headers: { 'x-active-tenant': tenant } });
        expect(response.status).toBe(403);
        expect(response.body.error.code).toBe('TENANT_FORBIDDEN');
      }
    });

    it('logging in to a tenant one is not a member of is refused', async () => {
      const response = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email: 'bob@globex.test', password: PASSWORD, tenant: 'acme' } });
      expect(response.status).toBe(403);
      expect(response.body.error.code).toBe('TENANT_FORBIDDEN');
    });

    it('removing a member cuts off an access token that is still within its lifetime', async () => {
      const removed = await freshMember('member');
      const carol = await login(removed.email);
      expect(await meStatus(carol.access_token)).toBe(200);
      const owner = await login('alice@acme.test');
      expect((await call(base, 'DELETE', `/v1/members/${removed.id}`, { token: owner.access_token })).status).toBe(204);
      await expect.poll(async () => {
        const response = await call<ErrorBody>(base, 'GET', '/v1/me', { token: carol.access_token });
        return `${response.status} ${response.body.error?.code}`;
      }, CUT_OFF).toBe('401 TOKEN_REVOKED');
      expect((await call<ErrorBody>(base, 'POST', '/v1/auth/refresh', { body: { refresh_token: carol.refresh_token } })).body.error.code).toBe('TOKEN_REVOKED');
    });

    it('a member cannot remove members, and an owner of one tenant cannot reach into another', async () => {
      const frank = await login((await freshMember('member')).email);
      const denied = await call<ErrorBody>(base, 'DELETE', `/v1/members/${ids['dave@acme.test']}`, { token: frank.access_token });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('POLICY_DENIED');
      const bob = await login('bob@globex.test');
      const other = await call<ErrorBody>(base, 'DELETE', `/v1/members/${ids['dave@acme.test']}`, { token: bob.access_token });
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('USER_NOT_FOUND');
      expect(await meStatus((await login('dave@acme.test')).access_token)).toBe(200);
    });

    it('a role changed in the database is the role of the next requests, not the one at login', async () => {
      const changed = await freshMember('member');
      const { access_token } = await login(changed.email);
      expect((await call(base, 'GET', '/v1/me', { token: access_token })).body).toMatchObject({ roles: ['member'] });
      await core.db.withPlatform((tx) => tx.query(`UPDATE memberships SET role = 'viewer' WHERE user_id = $1`, [changed.id]));
      await expect.poll(async () => (await call<{ roles: string[] }>(base, 'GET', '/v1/me', { token: access_token })).body.roles, CUT_OFF).toEqual(['viewer']);
    });

    it('changing the password ends every session', async () => {
      const { email } = await freshMember('member');
      const [frank, otherSession] = [await login(email), await login(email, { channel: 'mobile' })];
      const changed = await call(base, 'POST', '/v1/me/password', { token: frank.access_token, body: { current_password: PASSWORD, new_password: `${PASSWORD} 2` } });
      expect(changed.status).toBe(204);
      await expect.poll(() => meStatus(frank.access_token), CUT_OFF).toBe(401);
      await expect.poll(() => meStatus(otherSession.access_token), CUT_OFF).toBe(401);
      const relogin = await call(base, 'POST', '/v1/auth/login', { body: { email, password: `${PASSWORD} 2` } });
      expect(relogin.status).toBe(200);
    });
  });

  describe('platform administrators', () => {
    it('manage tenants but see no tenant data by that alone; others may not manage tenants', async () => {
      const admin = await freshPlatformAdmin();
      const { access_token } = await login(admin.email);
      const me = await call(base, 'GET', '/v1/me', { token: access_token });
      expect(me.body).toMatchObject({ tenant: null, roles: [], platformAdmin: true, user: { id: admin.id } });

      const created = await call(base, 'POST', '/v1/tenants', { token: access_token, body: { slug: 'initech', name: 'Initech' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ slug: 'initech', name: 'Initech', status: 'active' });
      const listed = await call<{ slug: string }[]>(base, 'GET', '/v1/tenants', { token: access_token });
      expect(listed.body.map((tenant) => tenant.slug)).toEqual(expect.arrayContaining(['acme', 'globex', 'initech']));

      const tenantData = await call<ErrorBody>(base, 'DELETE', `/v1/members/${ids['dave@acme.test']}`, { token: access_token });
      expect(tenantData.status).toBe(403);
      expect(tenantData.body.error.code).toBe('TENANT_REQUIRED');
      const switched = await call<ErrorBody>(base, 'GET', '/v1/me', { token: access_token, headers: { 'x-active-tenant': 'acme' } });
      expect(switched.body.error.code).toBe('TENANT_FORBIDDEN');

      const owner = await login('alice@acme.test');
      const notAdmin = await call<ErrorBody>(base, 'POST', '/v1/tenants', { token: owner.access_token, body: { slug: 'nope' } });
      expect(notAdmin.status).toBe(403);
      expect(notAdmin.body.error.code).toBe('POLICY_DENIED');
    });

    it('suspending a user cuts off their sessions in every tenant', async () => {
      const admin = await login((await freshPlatformAdmin()).email);
      const user = await freshMember('member', ['acme', 'globex']);
      const session = await login(user.email);
      const suspended = await call(base, 'POST', `/v1/users/${user.id}/suspension`, { token: admin.access_token, body: { suspended: true } });
      expect(suspended.status).toBe(204);
      await expect.poll(() => meStatus(session.access_token), CUT_OFF).toBe(401);
      await expect.poll(() => meStatus(session.access_token, { 'x-active-tenant': 'globex' }), CUT_OFF).toBe(401);
      const relogin = await call<ErrorBody>(base, 'POST', '/v1/auth/login', { body: { email: user.email, password: PASSWORD } });
      expect(relogin.status).toBe(403);
      expect(relogin.body.error.code).toBe('ACCOUNT_SUSPENDED');
      expect((await call(base, 'POST', `/v1/users/${user.id}/suspension`, { token: admin.access_token, body: { suspended: false } })).status).toBe(204);
      expect((await call(base, 'POST', '/v1/auth/login', { body: { email: user.email, password: PASSWORD } })).status).toBe(200);
    });
  });

  describe('signing keys', () => {
    it('publishes the JWKS, and a rotation keeps old tokens verifying while new ones use the new key', async () => {
      const before = await login('bob@globex.test');
      const oldKid = core.auth.keys.signingKey().kid;
      const jwks = await call<{ keys: { kid: string; alg: string; kty: string; d?: string }[] }>(base, 'GET', '/.well-known/jwks.json');
      expect(jwks.body.keys.map((key) => key.kid)).toContain(oldKid);
      expect(jwks.body.keys.every((key) => key.alg === 'ES256' && key.kty === 'EC' && key.d === undefined)).toBe(true);

      const newKid = await core.auth.keys.rotate();
      expect(newKid).not.toBe(oldKid);
      expect((await call(base, 'GET', '/v1/me', { token: before.access_token })).status).toBe(200);
      const after = await login('bob@globex.test');
      expect(JSON.parse(Buffer.from(after.access_token.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
      const rotated = await call<{ keys: { kid: string }[] }>(base, 'GET', '/.well-known/jwks.json');
      expect(rotated.body.keys.map((key) => key.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    });
  });
});
