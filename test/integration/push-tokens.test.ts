import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { contextFor } from '../support/fixtures.js';
import { call } from '../support/gateway.js';

type Token = { id: string; platform: string; token: string; active: boolean; moved?: boolean; locale: string | null };
type ErrorBody = { error: { code: string; details?: Record<string, unknown> } };
type Person = { id: string; token: string; mobile: string };

const PASSWORD = 'correct horse battery';

/** The push token registry over HTTP: one app install, one current user; the tenant wall; members leaving. */
describe('push tokens', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let n = 0;

  async function person(slug: string, role: 'owner' | 'admin' | 'member' | 'viewer' = 'member'): Promise<Person> {
    const email = `p${++n}@${slug}.test`;
    const { id, token } = await gw.user(slug, email, role);
    const login = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, tenant: slug, channel: 'mobile' } });
    return { id, token, mobile: login.body.access_token };
  }
  const register = (who: Person, body: Record<string, unknown>) => call<Token & ErrorBody>(gw.base, 'POST', '/v1/push/tokens', { token: who.mobile, body });
  const tokensOf = async (who: Person) => (await call<Token[]>(gw.base, 'GET', '/v1/push/tokens', { token: who.mobile })).body;
  const moves = async (tenantSlug: string) =>
    (await gw.gateway.core.db.platformQuery<{ user_id: string; details: Record<string, unknown> }>(
      `SELECT e.user_id, e.details FROM security_events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = $1 AND e.event_type = 'PUSH_TOKEN_MOVED' ORDER BY e.created_at`, [tenantSlug],
    ));
  const apnsToken = () => `${(++n).toString(16).padStart(8, '0')}${'ab'.repeat(28)}`;

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('home');
    await gw.tenant('office');
  });
  afterAll(() => gw?.close());

  it('a person registers a token and lists their own; registering again refreshes it', async () => {
    const alice = await person('home');
    const token = apnsToken();
    const first = await register(alice, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'production', locale: 'de-AT', timezone: 'Europe/Vienna' });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ platform: 'ios', token, active: true, moved: false, locale: 'de-AT' });
    const again = await register(alice, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'production', locale: 'en' });
    expect(again.body).toMatchObject({ id: first.body.id, moved: false, locale: 'en' });
    expect((await tokensOf(alice)).map((t) => t.token)).toEqual([token]);
  });

  it('a token registered by someone else moves to them, audited; what it leaves behind shows no other tenant', async () => {
    const [alice, bob, carol] = [await person('home'), await person('home'), await person('office')];
    const token = apnsToken();
    await register(alice, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'sandbox' });

    const toBob = await register(bob, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'sandbox' });
    expect(toBob.body.moved).toBe(true);
    expect(await tokensOf(alice)).toEqual([]);
    expect((await tokensOf(bob)).map((t) => t.token)).toEqual([token]);

    const toCarol = await register(carol, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'sandbox' });
    expect(toCarol.body.moved).toBe(true);
    expect(await tokensOf(bob)).toEqual([]);

    const home = (await moves('home')).filter((event) => event.details.tokenId === toBob.body.id);
    expect(home).toEqual([
      { user_id: bob.id, details: expect.objectContaining({ fromUser: alice.id }) },
      { user_id: bob.id, details: expect.objectContaining({ toAnotherTenant: true }) },
    ]);
    const office = (await moves('office')).filter((event) => event.details.tokenId === toBob.body.id);
    expect(office).toEqual([{ user_id: carol.id, details: expect.objectContaining({ fromAnotherTenant: true }) }]);
    expect(JSON.stringify(office)).not.toContain(bob.id);
  });

  it('the same token string in the other environment is another registration', async () => {
    const [alice, bob] = [await person('home'), await person('home')];
    const token = apnsToken();
    await register(alice, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'sandbox' });
    expect((await register(bob, { platform: 'ios', token, appId: 'com.example.gatehouse', environment: 'production' })).body.moved).toBe(false);
    expect(await tokensOf(alice)).toHaveLength(1);
  });

  it('refuses bad input, naming the field', async () => {
    const alice = await person('home');
    for (const [body, field] of [
      [{ platform: 'ios', token: 'short', appId: 'x', environment: 'production' }, undefined],
      [{ platform: 'ios', token: apnsToken(), appId: 'x', environment: 'production', timezone: 'Mars/Olympus' }, 'timezone'],
      [{ platform: 'ios', token: apnsToken(), appId: 'x', environment: 'production', locale: 'not a locale' }, 'locale'],
      [{ platform: 'ios', token: 'white space token', appId: 'x', environment: 'production' }, 'token'],
    ] as const) {
      const answer = await register(alice, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('VALIDATION_FAILED');
      if (field) expect(answer.body.error.details).toMatchObject({ field });
    }
  });

  it('tenant B can neither list nor delete tenant A\'s tokens', async () => {
    const [alice, mallory] = [await person('home'), await person('office', 'owner')];
    const token = apnsToken();
    await register(alice, { platform: 'android', token, appId: 'com.example.gatehouse', environment: 'production' });
    expect(await tokensOf(mallory)).toEqual([]);
    const deleted = await call<ErrorBody>(gw.base, 'DELETE', `/v1/push/tokens/${token}`, { token: mallory.mobile });
    expect(deleted.status).toBe(404);
    expect((await tokensOf(alice)).map((t) => t.token)).toEqual([token]);
    expect((await call(gw.base, 'DELETE', `/v1/push/tokens/${token}`, { token: alice.mobile })).status).toBe(204);
    expect(await tokensOf(alice)).toEqual([]);
  });

  it('removing a member deletes their tokens in that tenant only; logging out keeps them', async () => {
    const admin = await person('home', 'admin');
    const email = `both${++n}@home.test`;
    const inHome = await gw.user('home', email, 'member');
    await gw.gateway.core.auth.members.add(await operatorContext(gw.gateway.core.db, 'office'), { email, password: PASSWORD, role: 'member' });
    const login = async (tenant: string) => ({ id: inHome.id, token: '', mobile: (await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, tenant, channel: 'mobile' } })).body.access_token });
    const [home, office] = [await login('home'), await login('office')];
    await register(home, { platform: 'ios', token: apnsToken(), appId: 'com.example.gatehouse', environment: 'production' });
    await register(office, { platform: 'android', token: apnsToken(), appId: 'com.example.gatehouse', environment: 'production' });

    expect((await call(gw.base, 'POST', '/v1/auth/logout', { token: home.mobile })).status).toBe(204);
    const again = await login('home');
    expect(await tokensOf(again)).toHaveLength(1);

    expect((await call(gw.base, 'DELETE', `/v1/members/${inHome.id}`, { token: admin.token })).status).toBe(204);
    const left = await gw.gateway.core.db.platformQuery<{ slug: string }>('SELECT t.slug FROM push_tokens p JOIN tenants t ON t.id = p.tenant_id WHERE p.user_id = $1', [inHome.id]);
    expect(left.map((row) => row.slug)).toEqual(['office']);
  });

  it('voice assistants, devices and automations cannot register tokens', async () => {
    const alice = await person('home');
    const tenantId = (await gw.gateway.core.db.platformQuery<{ id: string }>('SELECT id FROM tenants WHERE slug = $1', ['home']))[0]!.id;
    const input = { platform: 'ios' as const, token: apnsToken(), appId: 'x', environment: 'production' as const };
    for (const shape of [{ channel: 'alexa' as const, kind: 'voice' as const }, { channel: 'iot' as const, kind: 'device' as const }, { channel: 'automation' as const, kind: 'app' as const }]) {
      await expect(gw.gateway.core.pushTokens.register(contextFor(tenantId, { ...shape, id: alice.id }), input), shape.channel).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    }
    expect(await tokensOf(alice)).toEqual([]);
  });
});
