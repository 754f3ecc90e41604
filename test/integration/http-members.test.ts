import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, refusedWith, stillConnected } from '../support/mqtt.js';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };
type Role = 'owner' | 'admin' | 'member' | 'viewer';
type MemberEntry = { id: string; email: string; role: Role; status: string; since: string };
type Invited = { outcome: 'invited'; invitation: { id: string; email: string; role: Role; status: string; expiresAt: string }; link: string };

const PASSWORD = 'correct horse battery';
/** The session cache of this gateway: a role change must bite within it (on this node it bites at once: the cache is told). */
const SESSION_CACHE_MS = 1_000;
/** How long a poll for a change may take before it is a failure: far beyond SESSION_CACHE_MS, for a loaded machine. */
const WITHIN = { timeout: 10_000, interval: 50 };

describe('members over the API: list, add or invite, change roles, remove; the role rules and the tenant wall', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  const open: MqttClient[] = [];
  const owner = { id: '', token: '' };

  async function login(email: string, tenant: string, channel = 'web'): Promise<string> {
    const response = await call<{ access_token: string }>(gw.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, tenant, channel } });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.access_token;
  }

  /** A member of the test's own (a unique address), signed in on the web channel. */
  async function person(tenant: string, role: Role): Promise<{ id: string; email: string; token: string }> {
    const email = `${role}-${randomBytes(4).toString('hex')}@${tenant}.test`;
    const { id, token } = await gw.user(tenant, email, role);
    return { id, email, token };
  }

  const owners = async (tenant: string) => gw.gateway.core.db.withPlatform(async (tx) => (await tx.query<{ user_id: string }>(
    `SELECT m.user_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id WHERE t.slug = $1 AND m.role = 'owner'`, [tenant])).rows.map((r) => r.user_id));

  const closed = (client: MqttClient) => new Promise<void>((resolve) => (client.stream.destroyed ? resolve() : client.once('close', () => resolve())));

  beforeAll(async () => {
    gw = await startBrokerGateway({ AUTH_SESSION_CACHE_MS: String(SESSION_CACHE_MS) });
    for (const slug of ['acme', 'globex', 'duo']) await gw.tenant(slug);
    Object.assign(owner, await gw.user('acme', 'owner@acme.test', 'owner'));
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.endAsync(true).catch(() => undefined)));
    await gw?.close();
  });

  it('GET /v1/members lists id, email, role, status and since', async () => {
    const viewer = await person('acme', 'viewer');
    const listed = await call<{ members: MemberEntry[] }>(gw.base, 'GET', '/v1/members', { token: owner.token });
    expect(listed.status).toBe(200);
    expect(listed.body.members).toEqual(expect.arrayContaining([
      { id: owner.id, email: 'owner@acme.test', role: 'owner', status: 'active', since: expect.any(String) },
      { id: viewer.id, email: viewer.email, role: 'viewer', status: 'active', since: expect.any(String) },
    ]));
    const refused = await call<ErrorBody>(gw.base, 'GET', '/v1/members', { token: viewer.token });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('POLICY_DENIED');
  });

  it('POST /v1/members adds an existing user at once, and invites someone new with a one-time link', async () => {
    const elsewhere = await person('globex', 'member');
    const added = await call<{ outcome: string; member: MemberEntry }>(gw.base, 'POST', '/v1/members', { token: owner.token, body: { email: elsewhere.email, role: 'viewer' } });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    expect(added.body).toEqual({ outcome: 'added', member: { id: elsewhere.id, email: elsewhere.email, role: 'viewer', status: 'active', since: expect.any(String) } });
    const twice = await call<ErrorBody>(gw.base, 'POST', '/v1/members', { token: owner.token, body: { email: elsewhere.email, role: 'viewer' } });
    expect(twice.status).toBe(409);

    const invited = await call<Invited>(gw.base, 'POST', '/v1/members', { token: owner.token, body: { email: 'newcomer@acme.test', role: 'member' } });
    expect(invited.status, JSON.stringify(invited.body)).toBe(201);
    expect(invited.body).toEqual({
      outcome: 'invited',
      invitation: { id: expect.any(String), email: 'newcomer@acme.test', role: 'member', status: 'pending', invitedBy: { kind: 'user', id: owner.id }, createdAt: expect.any(String), expiresAt: expect.any(String) },
      link: expect.stringMatching(new RegExp(`^${gw.gateway.publicUrl}/invitations/gi_[A-Za-z0-9_-]{43}$`)),
    });
    // Seven days by default (INVITATION_TTL_HOURS).
    const lifetime = Date.parse(invited.body.invitation.expiresAt) - Date.parse((invited.body.invitation as unknown as { createdAt: string }).createdAt);
    expect(lifetime).toBe(7 * 24 * 3_600_000);
    // Only the hash is stored.
    const token = invited.body.link.split('/').pop()!;
    const stored = await gw.gateway.core.db.withPlatform(async (tx) => (await tx.query('SELECT token_hash FROM invitations WHERE id = $1', [invited.body.invitation.id])).rows[0]);
    expect(stored.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.token_hash).not.toContain(token);

    const listed = await call<{ invitations: { id: string }[] }>(gw.base, 'GET', '/v1/invitations', { token: owner.token });
    expect(listed.body.invitations.map((i) => i.id)).toContain(invited.body.invitation.id);
  });

  it('a link answers its page until it is revoked; a revoked, expired or unknown link gets a page saying so', async () => {
    const invite = async (email: string) => (await call<Invited>(gw.base, 'POST', '/v1/members', { token: owner.token, body: { email, role: 'viewer' } })).body;
    const page = async (link: string) => {
      const response = await fetch(link.replace(gw.gateway.publicUrl, gw.base));
      return { status: response.status, html: await response.text(), headers: response.headers };
    };
    const revoked = await invite('withdrawn@acme.test');
    const before = await page(revoked.link);
    expect(before.status).toBe(200);
    expect(before.html).toContain('withdrawn@acme.test');
    expect(before.headers.get('cache-control')).toBe('no-store');
    expect(before.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await call(gw.base, 'DELETE', `/v1/invitations/${revoked.invitation.id}`, { token: owner.token })).status).toBe(204);
    const after = await page(revoked.link);
    expect(after.status).toBe(410);
    expect(after.html).toContain('This invitation was withdrawn.');
    const listed = await call<{ invitations: { id: string }[] }>(gw.base, 'GET', '/v1/invitations', { token: owner.token });
    expect(listed.body.invitations.map((i) => i.id)).not.toContain(revoked.invitation.id);

    const expired = await invite('late@acme.test');
    await gw.gateway.core.db.withPlatform((tx) => tx.query(`UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expired.invitation.id]));
    const stale = await page(expired.link);
    expect(stale.status).toBe(410);
    expect(stale.html).toContain('This invitation expired on');
    const post = await fetch(expired.link.replace(gw.gateway.publicUrl, gw.base), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ password: PASSWORD, password_confirm: PASSWORD }),
    });
    expect(post.status).toBe(410);
    const nobody = await gw.gateway.core.db.withPlatform(async (tx) => (await tx.query(`SELECT 1 FROM users WHERE email = 'late@acme.test'`)).rows);
    expect(nobody).toEqual([]);

    const unknown = await fetch(`${gw.base}/invitations/gi_${'x'.repeat(43)}`);
    expect(unknown.status).toBe(410);
    expect(await unknown.text()).toContain('This invitation link is not valid.');
  });

  it('no one grants a role above their own: a member cannot grant admin, an admin cannot make or change an owner', async () => {
    const member = await person('acme', 'member');
    const admin = await person('acme', 'admin');
    const viewer = await person('acme', 'viewer');

    const byMember = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${viewer.id}`, { token: member.token, body: { role: 'admin' } });
    expect(byMember.status).toBe(403);
    expect(byMember.body.error.code).toBe('POLICY_DENIED');
    const selfPromotion = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${member.id}`, { token: member.token, body: { role: 'admin' } });
    expect(selfPromotion.status).toBe(403);

    const toOwner = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${viewer.id}`, { token: admin.token, body: { role: 'owner' } });
    expect(toOwner.status).toBe(403);
    expect(toOwner.body.error.code).toBe('ROLE_ABOVE_OWN');
    const demoteOwner = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${owner.id}`, { token: admin.token, body: { role: 'viewer' } });
    expect(demoteOwner.body.error.code).toBe('ROLE_ABOVE_OWN');
    const removeOwner = await call<ErrorBody>(gw.base, 'DELETE', `/v1/members/${owner.id}`, { token: admin.token });
    expect(removeOwner.body.error.code).toBe('ROLE_ABOVE_OWN');
    const inviteOwner = await call<ErrorBody>(gw.base, 'POST', '/v1/members', { token: admin.token, body: { email: 'boss@acme.test', role: 'owner' } });
    expect(inviteOwner.body.error.code).toBe('ROLE_ABOVE_OWN');

    // Up to their own role, an admin may.
    const toAdmin = await call<MemberEntry>(gw.base, 'PUT', `/v1/members/${viewer.id}`, { token: admin.token, body: { role: 'admin' } });
    expect(toAdmin.status).toBe(200);
    expect(toAdmin.body).toMatchObject({ id: viewer.id, role: 'admin' });
    expect(await owners('acme')).toEqual([owner.id]);
  });

  it('the last owner can be neither demoted nor removed, by anyone', async () => {
    const demote = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${owner.id}`, { token: owner.token, body: { role: 'admin' } });
    expect(demote.status).toBe(409);
    expect(demote.body.error.code).toBe('LAST_OWNER');
    const remove = await call<ErrorBody>(gw.base, 'DELETE', `/v1/members/${owner.id}`, { token: owner.token });
    expect(remove.status).toBe(409);
    expect(remove.body.error.code).toBe('LAST_OWNER');
    expect(await owners('acme')).toEqual([owner.id]);
  });

  it('two owners demoting each other at once leave one owner', async () => {
    for (let round = 0; round < 5; round++) {
      const first = await person('duo', 'owner');
      const second = await person('duo', 'owner');
      const remaining = (await owners('duo')).filter((id) => id !== first.id && id !== second.id);
      // Earlier rounds left one owner each: demote those first (one by one), so that these two are the only owners.
      for (const id of remaining) expect((await call(gw.base, 'PUT', `/v1/members/${id}`, { token: first.token, body: { role: 'member' } })).status).toBe(200);
      const [a, b] = await Promise.all([
        call<ErrorBody>(gw.base, 'PUT', `/v1/members/${second.id}`, { token: first.token, body: { role: 'admin' } }),
        call<ErrorBody>(gw.base, 'PUT', `/v1/members/${first.id}`, { token: second.token, body: { role: 'admin' } }),
      ]);
      // The second waits on the first's lock, then finds its own actor an admin now, below the owner it meant to demote.
      const loser = a.status === 200 ? b : a;
      expect([a.status, b.status].sort(), JSON.stringify([a.body, b.body])).toEqual([200, 403]);
      expect(loser.body.error.code).toBe('ROLE_ABOVE_OWN');
      expect(await owners('duo')).toHaveLength(1);
    }
  });

  it('a role change bites on the next HTTP request, drops the person\'s MQTT-over-WebSocket connection, and is audited', async () => {
    const admin = await person('acme', 'admin');
    expect((await call(gw.base, 'GET', '/v1/members', { token: admin.token })).status).toBe(200);
    const dashboard = await connect(gw.endpoints.ws, { username: '', password: admin.token });
    open.push(dashboard);
    await stillConnected(dashboard);
    const dropped = closed(dashboard);

    const changed = await call<MemberEntry>(gw.base, 'PUT', `/v1/members/${admin.id}`, { token: owner.token, body: { role: 'viewer' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ id: admin.id, email: admin.email, role: 'viewer', status: 'active', since: expect.any(String) });

    // The same token, with no new login: the role is read live (within AUTH_SESSION_CACHE_MS).
    await expect.poll(async () => (await call(gw.base, 'GET', '/v1/members', { token: admin.token })).status, WITHIN).toBe(403);
    const me = await call<{ roles: string[] }>(gw.base, 'GET', '/v1/me', { token: admin.token });
    expect(me.body.roles).toEqual(['viewer']);
    await dropped;
    // Reconnecting gives the connection the role held now.
    const again = await connect(gw.endpoints.ws, { username: '', password: admin.token });
    open.push(again);
    await stillConnected(again);

    const events = await gw.gateway.core.db.withPlatform(async (tx) => (await tx.query(
      `SELECT channel, principal, details FROM security_events WHERE event_type = 'MEMBER_ROLE_CHANGED' AND user_id = $1`, [admin.id])).rows);
    expect(events).toEqual([{ channel: 'web', principal: { kind: 'user', id: owner.id }, details: { from: 'admin', to: 'viewer' } }]);
  });

  it('removing a member cuts their session and their MQTT connection at once', async () => {
    const viewer = await person('acme', 'viewer');
    const dashboard = await connect(gw.endpoints.ws, { username: '', password: viewer.token });
    open.push(dashboard);
    await stillConnected(dashboard);
    const dropped = closed(dashboard);
    expect((await call(gw.base, 'DELETE', `/v1/members/${viewer.id}`, { token: owner.token })).status).toBe(204);
    await dropped;
    await expect.poll(async () => (await call(gw.base, 'GET', '/v1/me', { token: viewer.token })).status, WITHIN).toBe(401);
    expect(await refusedWith(gw.endpoints.ws, { username: '', password: viewer.token })).toBe(4);
  });

  it('on the mobile channel a change needs "confirm": true', async () => {
    const target = await person('acme', 'viewer');
    const mobile = await login('owner@acme.test', 'acme', 'mobile');
    const unconfirmed = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${target.id}`, { token: mobile, body: { role: 'member' } });
    expect(unconfirmed.status).toBe(403);
    expect(unconfirmed.body.error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await call(gw.base, 'PUT', `/v1/members/${target.id}`, { token: mobile, body: { role: 'member', confirm: true } })).status).toBe(200);
    expect((await call<ErrorBody>(gw.base, 'DELETE', `/v1/members/${target.id}`, { token: mobile })).body.error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await call(gw.base, 'DELETE', `/v1/members/${target.id}?confirm=true`, { token: mobile })).status).toBe(204);
  });

  it('tenant B can read, change or remove none of tenant A\'s members or invitations: each attempt answers 404', async () => {
    const globexOwner = await person('globex', 'owner');
    const victim = await person('acme', 'member');
    const invitation = (await call<Invited>(gw.base, 'POST', '/v1/members', { token: owner.token, body: { email: 'pending@acme.test', role: 'viewer' } })).body.invitation;

    const members = await call<{ members: MemberEntry[] }>(gw.base, 'GET', '/v1/members', { token: globexOwner.token });
    expect(members.body.members.map((m) => m.id)).not.toContain(victim.id);
    expect(members.body.members.map((m) => m.id)).not.toContain(owner.id);
    const invitations = await call<{ invitations: { id: string }[] }>(gw.base, 'GET', '/v1/invitations', { token: globexOwner.token });
    expect(invitations.body.invitations.map((i) => i.id)).not.toContain(invitation.id);

    const change = await call<ErrorBody>(gw.base, 'PUT', `/v1/members/${victim.id}`, { token: globexOwner.token, body: { role: 'viewer' } });
    const remove = await call<ErrorBody>(gw.base, 'DELETE', `/v1/members/${victim.id}`, { token: globexOwner.token });
    for (const refused of [change, remove]) {
      expect(refused.status).toBe(404);
      expect(refused.body.error).toEqual({ code: 'USER_NOT_FOUND', message: `Not found, or no access: ${victim.id}.`, details: { ids: [victim.id] } });
    }
    const revoke = await call<ErrorBody>(gw.base, 'DELETE', `/v1/invitations/${invitation.id}`, { token: globexOwner.token });
    expect(revoke.status).toBe(404);
    expect(revoke.body.error.code).toBe('INVITATION_NOT_FOUND');

    const untouched = await call<{ members: MemberEntry[] }>(gw.base, 'GET', '/v1/members', { token: owner.token });
    expect(untouched.body.members.find((m) => m.id === victim.id)?.role).toBe('member');
    expect((await call<{ invitations: { id: string }[] }>(gw.base, 'GET', '/v1/invitations', { token: owner.token })).body.invitations.map((i) => i.id)).toContain(invitation.id);
  });
});
