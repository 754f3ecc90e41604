import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';

type Page = { items: { id: string; type: string; channel: string | null; userId: string | null; deviceId: string | null; details: Record<string, unknown>; createdAt: string }[]; next: string | null };
type ErrorBody = { error: { code: string } };

/** The audit log read back over HTTP (security_events.read), and the tenant's approval rule (owners). */
describe('security events and the approval rule over HTTP', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let owner: { id: string; token: string };
  let admin: { id: string; token: string };
  let member: { id: string; token: string };
  let rivalAdmin: { id: string; token: string };

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('audited');
    await gw.tenant('rival');
    owner = await gw.user('audited', 'owner@audited.test', 'owner');
    admin = await gw.user('audited', 'admin@audited.test', 'admin');
    member = await gw.user('audited', 'member@audited.test', 'member');
    rivalAdmin = await gw.user('rival', 'admin@rival.test', 'admin');
    for (const name of ['sensor-1', 'sensor-2', 'sensor-3']) await gw.device('audited', name);
    await gw.device('rival', 'rival-sensor');
  });
  afterAll(() => gw?.close());

  const events = (token: string, query = '') => call<Page & ErrorBody>(gw.base, 'GET', `/v1/security-events${query}`, { token });

  it('an admin reads the tenant\'s events newest first, by type and in pages, and none of another tenant\'s', async () => {
    const created = await events(admin.token, '?type=DEVICE_CREATED');
    expect(created.status).toBe(200);
    expect(created.body.items.map((event) => event.details.name)).toEqual(['sensor-3', 'sensor-2', 'sensor-1']);

    const first = await events(admin.token, '?type=DEVICE_CREATED&limit=2');
    expect(first.body.items).toHaveLength(2);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await events(admin.token, `?type=DEVICE_CREATED&limit=2&cursor=${first.body.next}`);
    expect(second.body.items.map((event) => event.details.name)).toEqual(['sensor-1']);
    expect(second.body.next).toBeNull();

    const rival = await events(rivalAdmin.token, '?type=DEVICE_CREATED');
    expect(rival.body.items.map((event) => event.details.name)).toEqual(['rival-sensor']);
  });

  it('a member may not read the audit log', async () => {
    const answer = await events(member.token);
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('POLICY_DENIED');
  });

  it('a cursor not given out by the API is refused', async () => {
    const answer = await events(admin.token, '?cursor=bm90LWEtY3Vyc29y');
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('only an owner changes the approval rule; members read it; the change is audited', async () => {
    const rule = (token: string) => call<{ secondPerson: boolean } & ErrorBody>(gw.base, 'GET', '/v1/approvals/policy', { token });
    expect((await rule(member.token)).body).toEqual({ secondPerson: false });

    const byAdmin = await call<ErrorBody>(gw.base, 'PUT', '/v1/approvals/policy', { token: admin.token, body: { secondPerson: true } });
    expect(byAdmin.status).toBe(403);
    expect(byAdmin.body.error.code).toBe('POLICY_DENIED');

    const byOwner = await call<{ secondPerson: boolean }>(gw.base, 'PUT', '/v1/approvals/policy', { token: owner.token, body: { secondPerson: true } });
    expect(byOwner.status).toBe(200);
    expect((await rule(member.token)).body).toEqual({ secondPerson: true });
    expect((await rule(rivalAdmin.token)).body).toEqual({ secondPerson: false });

    const audited = await events(admin.token, '?type=APPROVAL_POLICY_CHANGED');
    expect(audited.body.items).toHaveLength(1);
    expect(audited.body.items[0]).toMatchObject({ userId: owner.id, details: { secondPerson: true } });
  });
});
