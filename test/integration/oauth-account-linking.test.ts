import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import type { Core } from '../../src/core/create-core.js';
import { scopesForChannel } from '../../src/core/policy/capability-matrix.js';
import { createTenant } from '../../src/core/tenants.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/processes.js';
import { ALEXA_REDIRECT, ALEXA_VENDOR, authorizeUrl, pkcePair, tokenRequest } from '../support/oauth.js';

const PASSWORD = 'correct horse battery';

describe('OAuth account linking (authorization code + PKCE)', () => {
  let t: TestGateway;
  let core: Core;
  let base: string;
  let alexa: { id: string; secret: string };
  let google: { id: string; secret: string };

  beforeAll(async () => {
    t = await startTestGateway();
    core = t.gateway.core;
    base = t.base;
    await createTenant(core.db, { slug: 'home' });
    await createTenant(core.db, { slug: 'cabin' });
    await core.auth.members.add(await operatorContext(core.db, 'home'), { email: 'owner@home.test', password: PASSWORD, role: 'owner' });
    await core.auth.members.add(await operatorContext(core.db, 'home'), { email: 'two@home.test', password: PASSWORD, role: 'member' });
    await core.auth.members.add(await operatorContext(core.db, 'cabin'), { email: 'two@home.test', password: PASSWORD, role: 'admin' });
    const a = await core.auth.oauth.clients.create({ platform: 'alexa', redirectUris: platformRedirectUris('alexa', ALEXA_VENDOR) });
    alexa = { id: a.clientId, secret: a.clientSecret };
    const g = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', 'my-project') });
    google = { id: g.clientId, secret: g.clientSecret };
  });
  afterAll(() => t?.close());

  /** Submits the page's form as a browser would, returning where it redirects. */
  async function submit(fields: Record<string, string>): Promise<{ status: number; location: string | null; html: string }> {
    const response = await fetch(`${base}/oauth/authorize`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: response.status, location: response.headers.get('location'), html: await response.text() };
  }

  function request(client = alexa, redirectUri = ALEXA_REDIRECT, challenge = pkcePair().challenge) {
    return { response_type: 'code', client_id: client.id, redirect_uri: redirectUri, state: 'xyz-state', code_challenge: challenge, code_challenge_method: 'S256' };
  }

  async function codeFor(email: string, challenge: string, extra: Record<string, string> = {}): Promise<string> {
    const result = await submit({ ...request(alexa, ALEXA_REDIRECT, challenge), email, password: PASSWORD, action: 'allow', ...extra });
    expect(result.status, result.html).toBe(302);
    const location = new URL(result.location!);
    expect(location.origin + location.pathname).toBe(ALEXA_REDIRECT);
    expect(location.searchParams.get('state')).toBe('xyz-state');
    return location.searchParams.get('code')!;
  }

  it('serves a real login and consent page that names the platform and offers Cancel', async () => {
    const response = await fetch(authorizeUrl(base, request()));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const html = await response.text();
    expect(html).toContain('Link Amazon Alexa to Gatehouse');
    expect(html).toMatch(/name="action" value="cancel"/);
    expect(html).toMatch(/type="password"/);
    const googlePage = await (await fetch(authorizeUrl(base, request(google, 'https://oauth-redirect.googleusercontent.com/r/my-project')))).text();
    expect(googlePage).toContain('Link Google Assistant to Gatehouse');
  });

  it('never redirects to a URI off the client\'s allowlist', async () => {
    for (const uri of ['https://evil.example/cb', `${ALEXA_REDIRECT}/extra`, ALEXA_REDIRECT.replace('https:', 'http:'), `${ALEXA_REDIRECT}?x=1`]) {
      const response = await fetch(authorizeUrl(base, request(alexa, uri)), { redirect: 'manual' });
      expect(response.status, uri).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('The redirect_uri is not registered for this client.');
      const posted = await submit({ ...request(alexa, uri), email: 'owner@home.test', password: PASSWORD, action: 'allow' });
      expect(posted.status).toBe(400);
      expect(posted.location).toBeNull();
    }
    const unknownClient = await fetch(authorizeUrl(base, { ...request(), client_id: 'alexa-nobody' }), { redirect: 'manual' });
    expect(unknownClient.status).toBe(400);
  });

  it('redirects other request errors back with error=invalid_request and the state', async () => {
    const noPkce = await fetch(authorizeUrl(base, { ...request(), code_challenge: undefined }), { redirect: 'manual' });
    expect(noPkce.status).toBe(302);
    const location = new URL(noPkce.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('xyz-state');
    const plain = await fetch(authorizeUrl(base, { ...request(), code_challenge_method: 'plain' }), { redirect: 'manual' });
    expect(new URL(plain.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    const token = await fetch(authorizeUrl(base, { ...request(), response_type: 'token' }), { redirect: 'manual' });
    expect(new URL(token.headers.get('location')!).searchParams.get('error')).toBe('unsupported_response_type');
  });

  it('Cancel returns error=access_denied to the redirect URI', async () => {
    const result = await submit({ ...request(), action: 'cancel' });
    expect(result.status).toBe(302);
    const location = new URL(result.location!);
    expect(location.origin + location.pathname).toBe(ALEXA_REDIRECT);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('xyz-state');
  });

  it('a wrong password shows the page again with the reason, and no code', async () => {
    const result = await submit({ ...request(), email: 'owner@home.test', password: 'wrong password', action: 'allow' });
    expect(result.status).toBe(401);
    expect(result.location).toBeNull();
    expect(result.html).toContain('The email or password is wrong.');
  });

  it('exchanges the code with the verifier for tokens bound to the user, tenant and the alexa channel', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await codeFor('owner@home.test', challenge);
    const exchanged = await tokenRequest(base, alexa, { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier });
    expect(exchanged.status).toBe(200);
    expect(exchanged.headers.get('cache-control')).toBe('no-store');
    expect(exchanged.body).toEqual({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.stringMatching(/^grt_/), expires_in: 900 });
    expect(typeof exchanged.body.expires_in).toBe('number');

    const me = await call(base, 'GET', '/v1/me', { token: exchanged.body.access_token as string });
    expect(me.body).toMatchObject({ user: { email: 'owner@home.test' }, tenant: { slug: 'home' }, channel: 'alexa', roles: ['owner'] });
    expect((me.body.scopes as string[]).sort()).toEqual(scopesForChannel('alexa').sort());

    // A voice token can never reach an admin capability, whatever its user's role.
    const admin = await call<{ error: { code: string } }>(base, 'DELETE', '/v1/members/00000000-0000-7000-8000-000000000000', { token: exchanged.body.access_token as string });
    expect(admin.status).toBe(403);
    expect(admin.body.error.code).toBe('POLICY_DENIED');

    const refreshed = await tokenRequest(base, alexa, { grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token as string }, 'body');
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(exchanged.body.refresh_token);
    const dead = await tokenRequest(base, alexa, { grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token as string });
    expect(dead.status).toBe(400);
    expect(dead.body.error).toBe('invalid_grant');
  });

  it('refuses a PKCE verifier that does not match', async () => {
    const { challenge } = pkcePair();
    const code = await codeFor('owner@home.test', challenge);
    const wrong = await tokenRequest(base, alexa, { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: pkcePair().verifier });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: 'invalid_grant', error_description: 'The PKCE code_verifier does not match the code_challenge.' });
  });

  it('a reused code is invalid_grant and revokes the tokens issued for it', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await codeFor('owner@home.test', challenge);
    const form = { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier };
    const first = await tokenRequest(base, alexa, form);
    expect(first.status).toBe(200);
    const second = await tokenRequest(base, alexa, form);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    const refresh = await tokenRequest(base, alexa, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('a code is valid for 60 seconds, for its own client and redirect URI only', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await codeFor('owner@home.test', challenge);
    const otherClient = await tokenRequest(base, google, { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier });
    expect(otherClient.body.error).toBe('invalid_grant');
    const otherRedirect = await tokenRequest(base, alexa, { grant_type: 'authorization_code', code, redirect_uri: `https://layla.amazon.com/api/skill/link/${ALEXA_VENDOR}`, code_verifier: verifier });
    expect(otherRedirect.body.error).toBe('invalid_grant');
    const stored = await core.db.withPlatform(async (tx) => (await tx.query(`SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM oauth_codes ORDER BY created_at DESC LIMIT 1`)).rows[0]);
    expect(stored.ttl).toBe(60);
    await core.db.withPlatform((tx) => tx.query(`UPDATE oauth_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`));
    const expired = await tokenRequest(base, alexa, { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier });
    expect(expired.body).toEqual({ error: 'invalid_grant', error_description: 'The authorization code has expired.' });
  });

  it('authenticates the client by HTTP Basic or body, and refuses a wrong secret as invalid_client', async () => {
    const wrong = await tokenRequest(base, { id: alexa.id, secret: 'gs_wrong' }, { grant_type: 'refresh_token', refresh_token: 'x' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    const none = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x' });
    expect(none.status).toBe(401);
    const grant = await tokenRequest(base, alexa, { grant_type: 'password' }, 'body');
    expect(grant.status).toBe(400);
    expect(grant.body.error).toBe('unsupported_grant_type');
  });

  it('locks a client out after repeated failed exchanges, and audits it', async () => {
    const victim = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', 'locked-project') });
    const client = { id: victim.clientId, secret: victim.clientSecret };
    for (let i = 0; i < 20; i++) {
      const failed = await tokenRequest(base, { id: client.id, secret: 'gs_guess' }, { grant_type: 'refresh_token', refresh_token: 'x' });
      expect(failed.status).toBe(401);
    }
    const locked = await tokenRequest(base, client, { grant_type: 'refresh_token', refresh_token: 'x' });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe('slow_down');
    await waitFor(async () => {
      const rows = await core.db.withPlatform(async (tx) => (await tx.query(`SELECT 1 FROM security_events WHERE event_type = 'LOCKOUT' AND details->>'key' = $1`, [`client:${client.id}`])).rows);
      return rows.length === 1 ? true : undefined;
    }, 5_000, 'lockout event');
  });

  it('lets a user in several tenants choose which one to link', async () => {
    const { verifier, challenge } = pkcePair();
    const step1 = await submit({ ...request(alexa, ALEXA_REDIRECT, challenge), email: 'two@home.test', password: PASSWORD, action: 'allow' });
    expect(step1.status).toBe(200);
    expect(step1.html).toContain('Choose the home');
    const ticket = /name="ticket" value="([^"]+)"/.exec(step1.html)![1]!;
    const cabin = /name="tenant" value="([^"]+)"[^>]*> cabin/.exec(step1.html)![1]!;
    const step2 = await submit({ ...request(alexa, ALEXA_REDIRECT, challenge), ticket, tenant: cabin, action: 'allow' });
    expect(step2.status).toBe(302);
    const code = new URL(step2.location!).searchParams.get('code')!;
    const tokens = await tokenRequest(base, alexa, { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier });
    const me = await call(base, 'GET', '/v1/me', { token: tokens.body.access_token as string });
    expect(me.body).toMatchObject({ tenant: { slug: 'cabin' }, roles: ['admin'], channel: 'alexa' });
    const forged = await submit({ ...request(alexa, ALEXA_REDIRECT, challenge), ticket: `${ticket}x`, tenant: cabin, action: 'allow' });
    expect(forged.status).toBe(401);
  });
});
