import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/core/errors.js';
import { DeviceRegistry } from '../../src/core/devices/device-registry.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import type { Database } from '../../src/db/database.js';
import { createTestDatabase } from '../support/database.js';
import { Members } from '../../src/auth/members.js';
import { Sessions } from '../../src/auth/sessions.js';
import type { AccessTokens } from '../../src/auth/access-tokens.js';
import { contextFor, makeTenant } from '../support/fixtures.js';

// Rows written through the services, as the gateway writes them. Every table with tenant_id,
// whatever writes it, is checked generically from the catalog in tenant-wall.test.ts.
const tenantMembers = (db: Database) => new Members(db, new AccessPolicy(db), new Sessions(db, undefined as unknown as AccessTokens));

describe('row-level security: the second wall', () => {
  let db: Database;
  let close: () => Promise<void>;
  let a: Awaited<ReturnType<typeof makeTenant>>;
  let b: Awaited<ReturnType<typeof makeTenant>>;

  beforeAll(async () => {
    ({ db, close } = await createTestDatabase());
    a = await makeTenant(db, 'a');
    b = await makeTenant(db, 'b');
    const devices = new DeviceRegistry(db, new AccessPolicy(db));
    // The same device names in both tenants.
    for (const tenant of [a, b]) {
      await devices.register(tenant.operator, { name: 'sensor-1', capabilities: [{ name: 'lock', requiresPin: true }] });
      await devices.register(tenant.operator, { name: 'sensor-2' });
      await tenantMembers(db).add(tenant.operator, { email: `owner@${tenant.slug}.test`, password: 'long enough password', role: 'owner' });
    }
  });
  afterAll(() => close());

  it('hides the other tenant\'s rows from SQL that forgets WHERE tenant_id', async () => {
    const rows = await db.withTenant(a.operator, async (tx) => (await tx.query<{ tenant_id: string }>('SELECT tenant_id FROM devices')).rows);
    expect(rows).toHaveLength(2);
    expect(rows.every((row) => row.tenant_id === a.id)).toBe(true);

    for (const table of ['device_capabilities', 'security_events', 'memberships', 'tenants', 'users']) {
      const column = table === 'tenants' ? 'id' : table === 'users' ? `(SELECT tenant_id FROM memberships m WHERE m.user_id = users.id)` : 'tenant_id';
      const seen = await db.withTenant(a.operator, async (tx) => (await tx.query(`SELECT DISTINCT ${column} AS t FROM ${table}`)).rows);
      expect(seen.map((row) => row.t), table).toEqual([a.id]);
    }
  });

  it('cannot update or delete the other tenant\'s rows either', async () => {
    const updated = await db.withTenant(a.operator, (tx) => tx.query(`UPDATE devices SET status = 'revoked'`));
    expect(updated.rowCount).toBe(2);
    const deleted = await db.withTenant(a.operator, (tx) => tx.query('DELETE FROM device_capabilities'));
    expect(deleted.rowCount).toBe(1);
    const bRows = await db.withTenant(b.operator, async (tx) => (await tx.query(`SELECT status FROM devices`)).rows);
    expect(bRows.map((row) => row.status)).toEqual(['active', 'active']);
    const bCaps = await db.withTenant(b.operator, async (tx) => (await tx.query('SELECT 1 FROM device_capabilities')).rowCount);
    expect(bCaps).toBe(1);
  });

  it('refuses to write a row into another tenant', async () => {
    const attempt = db.withTenant(a.operator, (tx) =>
      tx.query(`INSERT INTO security_events (tenant_id, event_type) VALUES ($1, 'FORGED')`, [b.id]),
    );
    await expect(attempt).rejects.toThrow(/row-level security/);
  });

  it('sees nothing at all when no tenant is set', async () => {
    const rows = await db.pool.query('SET ROLE gatehouse_app; SELECT count(*)::int AS n FROM devices; RESET ROLE') as unknown as { rows: { n: number }[] }[];
    expect(rows[1]!.rows[0]!.n).toBe(0);
  });

  it('refuses a context that src/auth did not issue', async () => {
    const forged = { tenantId: b.id, principal: { kind: 'user', id: 'x' }, channel: 'web', roles: ['owner'], scopes: [] };
    await expect(db.withTenant(forged as never, async () => 'reached')).rejects.toSatisfy((error) => hasCode(error, 'TENANT_REQUIRED'));
  });

  it('answers "not found or no access" for another tenant\'s device, never confirming it exists', async () => {
    const policy = new AccessPolicy(db);
    const grant = await policy.requireAccess(a.operator, 'device.read', ['sensor-1']);
    expect(grant.resolved.get('sensor-1')).toBeDefined();
    const onlyInB = 'only-in-b';
    await new DeviceRegistry(db, policy).register(b.operator, { name: onlyInB });
    await expect(policy.requireAccess(a.operator, 'device.read', [onlyInB])).rejects.toSatisfy((error) => hasCode(error, 'DEVICE_NOT_FOUND'));
    await expect(policy.requireAccess(a.operator, 'device.read', ['never-existed'])).rejects.toSatisfy((error) => hasCode(error, 'DEVICE_NOT_FOUND'));
  });

  it('lets a device reach only itself', async () => {
    const policy = new AccessPolicy(db);
    const self = (await policy.requireAccess(a.operator, 'device.read', ['sensor-1'])).resolved.get('sensor-1')!;
    const device = contextFor(a.id, { kind: 'device', id: self, channel: 'iot' });
    await expect(policy.requireAccess(device, 'telemetry.publish', ['sensor-1'])).resolves.toBeDefined();
    await expect(policy.requireAccess(device, 'telemetry.publish', ['sensor-2'])).rejects.toSatisfy((error) => hasCode(error, 'DEVICE_NOT_FOUND'));
  });
});
