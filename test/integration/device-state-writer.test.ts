import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceStateWriter } from '../../src/core/devices/device-state-writer.js';
import { NodePresence } from '../../src/core/devices/node-presence.js';
import { LocalEventBus, type GatewayEvents } from '../../src/core/event-bus.js';
import { hasCode } from '../../src/core/errors.js';
import type { Database } from '../../src/db/database.js';
import { tenantScope, type TenantScope } from '../../src/db/tenant-scope.js';
import type { TenantContext } from '../../src/auth/context.js';
import { createTestDatabase } from '../support/database.js';
import { scopeFor } from '../support/fixtures.js';

/** The device-state writer against PostgreSQL: what it announces, after the commit, and the tenant scope it writes under. */
describe('DeviceStateWriter against PostgreSQL', () => {
  let db: Database;
  let close: () => Promise<void>;
  let tenantId: string;
  let scope: TenantScope;
  let deviceId: string;

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    tenantId = (await db.platformQuery<{ id: string }>(`INSERT INTO tenants (slug, name) VALUES ($1, $1) RETURNING id`, ['state-writer'])).at(0)!.id;
    deviceId = (await db.platformQuery<{ id: string }>(`INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, 'lamp', 'state-writer.lamp', 'x') RETURNING id`, [tenantId])).at(0)!.id;
    scope = scopeFor(tenantId);
  });
  afterAll(() => close());

  /** A bus whose listeners read, when they hear an event, what it announces: the reads show what was committed then. */
  function listening() {
    const events = new LocalEventBus((_, error) => {
      throw error; // a listener's failure fails the test (the bus would otherwise only report it)
    });
    const heard: { state: { event: GatewayEvents['device.state.changed']; stored: Promise<unknown> }[]; presence: { event: GatewayEvents['device.presence.changed']; stored: Promise<unknown> }[] } = { state: [], presence: [] };
    events.on('device.state.changed', (event) => heard.state.push({ event, stored: db.platformQuery<{ state: unknown }>('SELECT state FROM device_state WHERE device_id = $1', [event.deviceId]).then((rows) => rows[0]?.state) }));
    events.on('device.presence.changed', (event) => heard.presence.push({ event, stored: db.platformQuery<{ online: boolean }>('SELECT online FROM devices WHERE id = $1', [event.deviceId]).then((rows) => rows[0]?.online) }));
    return { events, heard };
  }

  it('announces a stored state after its commit, with its tenant', async () => {
    const { events, heard } = listening();
    const writer = new DeviceStateWriter(db, 60_000, () => undefined, events);
    writer.state(scope, deviceId, '{"on":true,"level":40}');
    writer.state(scope, deviceId, '{"on":true,"level":60}'); // the latest wins
    await writer.flush();
    expect(heard.state.map((h) => h.event)).toEqual([{ tenantId, deviceId, state: { on: true, level: 60 } }]);
    expect(await heard.state[0]!.stored).toEqual({ on: true, level: 60 });
    await writer.flush();
    expect(heard.state).toHaveLength(1); // nothing new written, nothing announced
    await writer.close();
  });

  it('announces presence when the stored online flag changes, and only then', async () => {
    const { events, heard } = listening();
    const writer = new DeviceStateWriter(db, 60_000, () => undefined, events);
    writer.connected(scope, deviceId);
    await writer.flush();
    writer.connected(scope, deviceId); // a second connection: still online
    writer.seen(deviceId);
    await writer.flush();
    writer.disconnected(deviceId);
    await writer.flush();
    writer.disconnected(deviceId);
    await writer.flush();
    expect(heard.presence.map((h) => h.event)).toEqual([{ tenantId, deviceId, online: true }, { tenantId, deviceId, online: false }]);
    expect(await Promise.all(heard.presence.map((h) => h.stored))).toEqual([true, false]);
    await writer.close();
  });

  describe('on several nodes (processes sharing the database)', () => {
    let devices = 0;
    const newDevice = async () => (await db.platformQuery<{ id: string }>(
      `INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, $2, $3, 'x') RETURNING id`, [tenantId, `node-lamp-${++devices}`, `state-writer.node-lamp-${devices}`]))[0]!.id;
    const online = async (id: string) => (await db.platformQuery<{ online: boolean }>('SELECT online FROM devices WHERE id = $1', [id]))[0]!.online;

    it('a device connected through two nodes stays online until both let it go', async () => {
      const device = await newDevice();
      const { events, heard } = listening();
      const [a, b] = [new DeviceStateWriter(db, 60_000, () => undefined, events, undefined, 'node-a'), new DeviceStateWriter(db, 60_000, () => undefined, events, undefined, 'node-b')];
      a.connected(scope, device);
      b.connected(scope, device); // it moved to node b before node a saw it leave
      await Promise.all([a.flush(), b.flush()]);
      a.disconnected(device);
      await a.flush();
      expect(await online(device)).toBe(true);
      b.disconnected(device);
      await b.flush();
      expect(await online(device)).toBe(false);
      expect(heard.presence.map((h) => h.event)).toEqual([{ tenantId, deviceId: device, online: true }, { tenantId, deviceId: device, online: false }]);
      await Promise.all([a.close(), b.close()]);
    });

    it('a node that stopped saying it is alive: another\'s sweep marks the devices it alone held offline, and it records them again when it is back', async () => {
      const [alone, both] = [await newDevice(), await newDevice()];
      const { events, heard } = listening();
      const [nodeA, nodeB] = [new NodePresence(db, 'sweep-a', events), new NodePresence(db, 'sweep-b', events)];
      const [a, b] = [new DeviceStateWriter(db, 60_000, () => undefined, events, undefined, nodeA.nodeId), new DeviceStateWriter(db, 60_000, () => undefined, events, undefined, nodeB.nodeId)];
      expect(await nodeA.heartbeat()).toBe(false);
      expect(await nodeB.heartbeat()).toBe(false);
      a.connected(scope, alone);
      a.connected(scope, both);
      b.connected(scope, both);
      await Promise.all([a.flush(), b.flush()]);
      expect(await nodeB.sweep()).toBe(0); // node a is alive: nothing to do

      // Node a is killed: its heartbeat stops, older than its staleness (15 s here).
      await db.platformQuery(`UPDATE gateway_nodes SET seen_at = now() - interval '1 minute' WHERE node_id = $1`, [nodeA.nodeId]);
      expect(await nodeB.sweep()).toBe(1);
      expect([await online(alone), await online(both)]).toEqual([false, true]);
      expect(heard.presence.map((h) => h.event).at(-1)).toEqual({ tenantId, deviceId: alone, online: false });
      expect(await db.platformQuery('SELECT 1 FROM gateway_nodes WHERE node_id = $1', [nodeA.nodeId])).toEqual([]);
      expect(await nodeB.sweep()).toBe(0);

      // It was only cut off from the database: it learns it was swept, and records what it holds again.
      expect(await nodeA.heartbeat()).toBe(true);
      a.recordPresenceAgain();
      await a.flush();
      expect(await online(alone)).toBe(true);
      await Promise.all([a.close(), b.close()]);
      await Promise.all([nodeA.leave(), nodeB.leave()]);
    });
  });

  it('announces nothing for a write that failed', async () => {
    const { events, heard } = listening();
    const writer = new DeviceStateWriter(db, 60_000, () => undefined, events);
    // Not a device of any tenant: the state's foreign key refuses it, and the transaction rolls back.
    writer.state(scope, '01a20000-0000-7000-8000-0000000000ff', '{"on":false}');
    await expect(writer.flush()).rejects.toThrow();
    expect(heard.state).toEqual([]);
    await writer.close();
  });

  it('the batch entry points take only a scope made from an issued context', async () => {
    const NO_ROWS = ['', '', [], '', '', ''];
    const refused = (error: unknown) => hasCode(error, 'TENANT_REQUIRED');
    const lookAlike = Object.freeze({ tenantId }) as TenantScope;
    await expect(db.callAsTenant(lookAlike, 'gatehouse_write_telemetry', NO_ROWS)).rejects.toSatisfy(refused);
    await expect(db.callAsTenant(tenantId as unknown as TenantScope, 'gatehouse_write_telemetry', NO_ROWS)).rejects.toSatisfy(refused);
    await expect(db.withEachTenant([[lookAlike, 1]], async () => undefined)).rejects.toSatisfy(refused);
    expect(() => tenantScope({ tenantId, principal: { kind: 'device', id: deviceId }, channel: 'iot', roles: [], scopes: [] } as unknown as TenantContext)).toThrow(/tenant/i);
    await expect(db.callAsTenant(scope, 'gatehouse_write_telemetry', NO_ROWS)).resolves.toBeUndefined();
  });
});
