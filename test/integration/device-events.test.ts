import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantContext } from '../../src/auth/context.js';
import type { GatewayEvents } from '../../src/core/event-bus.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { contextFor } from '../support/fixtures.js';
import { call } from '../support/gateway.js';
import { connect } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

type Page = { items: { id: string; kind: string; payload: unknown; receivedAt: string }[]; next: string | null };
type ErrorBody = { error: { code: string; message: string } };

/** Device events: stored by the core's record(), announced after the commit, read back in pages, walled per tenant. */
describe('device events', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let viewer: { id: string; token: string };
  let rival: { id: string; token: string };
  let tenantA: string;
  let tenantB: string;
  let n = 0;

  /** A device of the test's own in tenant A, and the context it acts with on the iot channel. */
  async function device(): Promise<{ name: string; id: string; ctx: TenantContext }> {
    const name = `panel-${++n}`;
    const { id } = await gw.device('events', name, [{ name: 'arm_disarm' }]);
    return { name, id, ctx: contextFor(tenantA, { kind: 'device', id, channel: 'iot' }) };
  }
  const events = (name: string, query = '', token = viewer.token) => call<Page & ErrorBody>(gw.base, 'GET', `/v1/devices/${name}/events${query}`, { token });

  beforeAll(async () => {
    gw = await startBrokerGateway();
    tenantA = (await gw.tenant('events')).id;
    tenantB = (await gw.tenant('events-rival')).id;
    viewer = await gw.user('events', 'viewer@events.test', 'viewer');
    rival = await gw.user('events-rival', 'owner@rival.test', 'owner');
  });
  afterAll(() => gw?.close());

  it('record stores the event and announces device.event after the commit, with its tenant', async () => {
    const panel = await device();
    const heard: { event: GatewayEvents['device.event']; stored: unknown[] }[] = [];
    const owner = {};
    gw.gateway.core.events.on('device.event', (event) => {
      if (event.deviceId !== panel.id) return;
      // Another connection reads the row: it is there only if the transaction has committed.
      void gw.gateway.core.db.platformQuery('SELECT tenant_id, kind, payload FROM device_events WHERE id = $1', [event.eventId]).then((stored) => heard.push({ event, stored }));
    }, owner);
    try {
      const recorded = await gw.gateway.core.deviceEvents.record(panel.ctx, panel.id, 'alarm/smoke', '{"level":"high"}');
      const [first] = await waitFor(async () => (heard.length > 0 ? heard : undefined), 5_000, 'device.event');
      expect(first).toEqual({
        event: { tenantId: tenantA, deviceId: panel.id, eventId: recorded.id, kind: 'alarm/smoke', payload: { level: 'high' } },
        stored: [{ tenant_id: tenantA, kind: 'alarm/smoke', payload: { level: 'high' } }],
      });
    } finally {
      gw.gateway.core.events.removeOwner(owner);
    }
  });

  it('stores what a device publishes on devices/<name>/events/<kind>, acknowledged (QoS 1) once stored', async () => {
    const name = `panel-${++n}`;
    const credential = await gw.device('events', name, [{ name: 'arm_disarm' }]);
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
    try {
      await client.publishAsync(`devices/${name}/events/alarm/intrusion`, '{"zone":3}', { qos: 1 });
      // The PUBACK came after the commit: the event is there now, without waiting.
      expect((await events(name)).body.items.map(({ kind, payload }) => ({ kind, payload }))).toEqual([{ kind: 'alarm/intrusion', payload: { zone: 3 } }]);
    } finally {
      await client.endAsync();
    }
  });

  it('keeps any JSON, an empty message as null, and refuses what is not JSON or not a kind', async () => {
    const panel = await device();
    await gw.gateway.core.deviceEvents.record(panel.ctx, panel.id, '', '');
    await gw.gateway.core.deviceEvents.record(panel.ctx, panel.id, 'button', '"pressed"');
    const deviceEvents = gw.gateway.core.deviceEvents;
    await expect(deviceEvents.record(panel.ctx, panel.id, 'button', '{not json')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(deviceEvents.record(panel.ctx, panel.id, 'alarm/#', '{}')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(deviceEvents.record(panel.ctx, panel.id, 'button', '"\\ud800"')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const page = await events(panel.name);
    expect(page.body.items.map((item) => [item.kind, item.payload])).toEqual([['button', 'pressed'], ['', null]]);
  });

  it('a device records only its own events, and no tenant records for another\'s device', async () => {
    const [panel, other] = [await device(), await device()];
    await expect(gw.gateway.core.deviceEvents.record(panel.ctx, other.id, 'button', '{}')).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    // The system of tenant B, naming tenant A's device.
    const systemB = contextFor(tenantB, { kind: 'service', channel: 'automation', id: 'automation' });
    await expect(gw.gateway.core.deviceEvents.record(systemB, other.id, 'button', '{}')).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    const stored = await gw.gateway.core.db.platformQuery<{ n: number }>('SELECT count(*)::int AS n FROM device_events WHERE device_id = $1', [other.id]);
    expect(stored[0]!.n).toBe(0);
  });

  it('GET /v1/devices/{name}/events pages newest first and filters by kind and time', async () => {
    const panel = await device();
    for (let i = 0; i < 25; i++) await gw.gateway.core.deviceEvents.record(panel.ctx, panel.id, i % 2 === 0 ? 'button' : 'alarm/smoke', JSON.stringify({ i }));
    const pages: unknown[][] = [];
    let next: string | null = '';
    while (next !== null) {
      const page: { status: number; body: Page & ErrorBody } = await events(panel.name, `?limit=10${next ? `&cursor=${next}` : ''}`);
      expect(page.status).toBe(200);
      pages.push(page.body.items.map((item) => item.payload));
      next = page.body.next;
    }
    expect(pages).toEqual([0, 1, 2].map((p) => Array.from({ length: p < 2 ? 10 : 5 }, (_, k) => ({ i: 24 - p * 10 - k }))));

    const alarms = await events(panel.name, '?kind=alarm/smoke&limit=100');
    expect(alarms.body.items.map((item) => item.payload)).toEqual(Array.from({ length: 12 }, (_, k) => ({ i: 23 - 2 * k })));
    expect(alarms.body.next).toBeNull();

    // The API speaks milliseconds and Postgres keeps microseconds: `from` (inclusive) and `to` (exclusive)
    // at a millisecond B split the events exactly where their millisecond times do.
    const all = (await events(panel.name, '?limit=100')).body.items;
    const boundary = all[12]!.receivedAt;
    const at = (item: Page['items'][number]) => Date.parse(item.receivedAt);
    const ids = (page: { body: Page }) => page.body.items.map((item) => item.id);
    expect(ids(await events(panel.name, `?limit=100&from=${encodeURIComponent(boundary)}`))).toEqual(all.filter((item) => at(item) >= Date.parse(boundary)).map((item) => item.id));
    expect(ids(await events(panel.name, `?limit=100&to=${encodeURIComponent(boundary)}`))).toEqual(all.filter((item) => at(item) < Date.parse(boundary)).map((item) => item.id));
    expect((await events(panel.name, `?from=${new Date(Date.parse(all[0]!.receivedAt) + 1).toISOString()}`)).body.items).toEqual([]);
  });

  it('refuses a cursor it did not give out and a time that is not one', async () => {
    const panel = await device();
    for (const query of ['?cursor=bm9wZQ', '?from=yesterday']) {
      const response = await events(panel.name, query);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('tenant B cannot read tenant A\'s device events: 404, even with a device of the same name', async () => {
    const panel = await device();
    await gw.gateway.core.deviceEvents.record(panel.ctx, panel.id, 'alarm', '{"secret":true}');
    expect((await events(panel.name)).body.items).toHaveLength(1);
    const denied = await events(panel.name, '', rival.token);
    expect(denied.status).toBe(404);
    expect(denied.body.error.code).toBe('DEVICE_NOT_FOUND');
    await gw.device('events-rival', panel.name);
    const own = await events(panel.name, '', rival.token);
    expect(own.status).toBe(200);
    expect(own.body.items).toEqual([]);
  });
});
