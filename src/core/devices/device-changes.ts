import type { TenantContext } from '../../auth/context.js';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import type { Database, Tx } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { requireConfirmation } from '../policy/confirmation.js';
import { checkChange, type DeviceChange } from './device-input.js';
import { strangers, type Confirmation } from './device-provisioning.js';

export type DeviceStatus = 'active' | 'suspended' | 'revoked';

/** What a removal did: the telemetry rows purged with it (0 unless `purge`). */
export type Removal = { name: string; purged: boolean; telemetryDeleted: number };
/** What purging a device's data did. */
export type Purge = { name: string; telemetryDeleted: number; eventsDeleted: number };

/** The columns a change may set, by the field that sets them. */
const PROFILE_COLUMNS = { displayName: 'display_name', nicknames: 'nicknames', room: 'room', ownerUserId: 'owner_user_id' } as const;
/** What voice platforms are told of (SYNC, Discovery): a change of any of these announces `device.updated`. */
const VOICE_VISIBLE = new Set<keyof DeviceChange>(['displayName', 'nicknames', 'room']);

/**
 * Changes to registered devices: profile and capabilities, secret, suspension,
 * removal. Each is audited in its transaction; what must reach the broker (drop
 * the device's connections) or the voice platforms is announced after commit.
 */
export class DeviceChanges {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly events?: EventBus) {}

  /**
   * Changes what is given; `capabilities` replaces the set (each validated
   * against the catalogue; its requiresPin / requiresApproval only ever raise
   * the catalogue's risk, see effectiveRisk). Announces `device.updated` when
   * something voice platforms show or use changed.
   */
  async update(ctx: TenantContext, name: string, change: DeviceChange & Confirmation): Promise<void> {
    const { resolved, ...grant } = await this.policy.requireAccess(ctx, 'device.manage', [name]);
    requireConfirmation(grant, change.confirm, 'Changing a device');
    const checked = checkChange(change);
    const deviceId = resolved.get(name)!;
    await this.db.withTenant(ctx, async (tx) => {
      if (checked.ownerUserId && (await strangers(tx, [checked.ownerUserId])).size > 0) {
        throw new GatewayError('VALIDATION_FAILED', `ownerUserId ${checked.ownerUserId} is not a member of this tenant.`, { ownerUserId: checked.ownerUserId });
      }
      const fields = (Object.keys(PROFILE_COLUMNS) as (keyof typeof PROFILE_COLUMNS)[]).filter((field) => checked[field] !== undefined);
      if (fields.length > 0) {
        const sets = fields.map((field, i) => `${PROFILE_COLUMNS[field]} = $${i + 2}`);
        await tx.query(`UPDATE devices SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, [deviceId, ...fields.map((field) => checked[field])]);
      }
      const capabilitiesChanged = checked.capabilities ? await replaceCapabilities(tx, ctx.tenantId, deviceId, checked.capabilities) : false;
      const { confirm: _confirm, ...asked } = change;
      await recordSecurityEvent(tx, ctx, { type: 'DEVICE_UPDATED', deviceId, details: { name, change: asked } });
      if (capabilitiesChanged || fields.some((field) => VOICE_VISIBLE.has(field))) {
        tx.afterCommit(() => this.events?.emit('device.updated', { tenantId: ctx.tenantId, deviceId, deviceName: name }));
      }
    });
  }

  /** Issues a new secret; the old one stops working at once (its hash is gone) and live connections are dropped. */
  async rotateSecret(ctx: TenantContext, name: string, options: Confirmation = {}): Promise<{ username: string; password: string }> {
    const { resolved, ...grant } = await this.policy.requireAccess(ctx, 'device.manage', [name]);
    requireConfirmation(grant, options.confirm, 'Rotating a device\'s secret');
    const deviceId = resolved.get(name)!;
    const password = generateSecret('gd');
    const secretHash = await hashSecret(password, 'generated');
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ username: string }>('UPDATE devices SET secret_hash = $2, updated_at = now() WHERE id = $1 RETURNING username', [deviceId, secretHash]);
      if (rows.length === 0) throw gone(name);
      await recordSecurityEvent(tx, ctx, { type: 'DEVICE_SECRET_ROTATED', deviceId });
      tx.afterCommit(() => this.events?.emit('device.access.revoked', { tenantId: ctx.tenantId, deviceId }));
      return { username: rows[0]!.username, password };
    });
  }

  /** Suspends, revokes or reinstates a device; unless active, its live connections are dropped at once and it cannot connect again. */
  async setStatus(ctx: TenantContext, name: string, status: DeviceStatus, options: Confirmation = {}): Promise<void> {
    const { resolved, ...grant } = await this.policy.requireAccess(ctx, 'device.manage', [name]);
    requireConfirmation(grant, options.confirm, status === 'active' ? 'Reinstating a device' : 'Suspending a device');
    const deviceId = resolved.get(name)!;
    await this.db.withTenant(ctx, async (tx) => {
      const { rowCount } = await tx.query('UPDATE devices SET status = $2, updated_at = now() WHERE id = $1', [deviceId, status]);
      if (rowCount === 0) throw gone(name);
      await recordSecurityEvent(tx, ctx, { type: 'DEVICE_STATUS_CHANGED', deviceId, details: { status } });
      if (status !== 'active') tx.afterCommit(() => this.events?.emit('device.access.revoked', { tenantId: ctx.tenantId, deviceId }));
    });
  }

  /**
   * Removes a device: its capabilities, state, events and commands go with it
   * (foreign keys), its telemetry stays until retention removes it, unless
   * `purge` (which needs data.purge too) deletes it in the same transaction.
   * Its connections are dropped and `device.removed` announced after commit.
   */
  async remove(ctx: TenantContext, name: string, options: Confirmation & { purge?: boolean } = {}): Promise<Removal> {
    const { resolved, ...grant } = await this.policy.requireAccess(ctx, 'device.manage', [name]);
    const purgeGrant = options.purge ? await this.policy.requireAccess(ctx, 'data.purge', [name]) : undefined;
    requireConfirmation({ obligations: [...grant.obligations, ...(purgeGrant?.obligations ?? [])] }, options.confirm, options.purge ? 'Removing a device and purging its telemetry' : 'Removing a device');
    const deviceId = resolved.get(name)!;
    return this.db.withTenant(ctx, async (tx) => {
      // The device row first: a telemetry batch naming it now waits for this transaction (its FOR KEY SHARE), then finds it gone.
      const { rowCount } = await tx.query('DELETE FROM devices WHERE id = $1', [deviceId]);
      if (rowCount === 0) throw gone(name);
      const telemetryDeleted = options.purge ? (await tx.query('DELETE FROM telemetry WHERE tenant_id = $1 AND device_id = $2', [ctx.tenantId, deviceId])).rowCount ?? 0 : 0;
      await recordSecurityEvent(tx, ctx, { type: 'DEVICE_REMOVED', deviceId, details: { name, purged: Boolean(options.purge), telemetryDeleted } });
      tx.afterCommit(() => {
        this.events?.emit('device.access.revoked', { tenantId: ctx.tenantId, deviceId });
        this.events?.emit('device.removed', { tenantId: ctx.tenantId, deviceId, deviceName: name });
      });
      return { name, purged: Boolean(options.purge), telemetryDeleted };
    });
  }
}

/**
 * Deletes a device's telemetry and events and keeps the device (data.purge): what an operator does for a
 * device whose data must go now rather than when retention takes it.
 */
export async function purgeDeviceData(db: Database, policy: AccessPolicy, ctx: TenantContext, name: string, options: Confirmation = {}): Promise<Purge> {
  const { resolved, ...grant } = await policy.requireAccess(ctx, 'data.purge', [name]);
  requireConfirmation(grant, options.confirm, 'Purging a device\'s telemetry and events');
  const deviceId = resolved.get(name)!;
  return db.withTenant(ctx, async (tx) => {
    const deleteFrom = async (table: 'telemetry' | 'device_events') =>
      (await tx.query(`DELETE FROM ${table} WHERE tenant_id = $1 AND device_id = $2`, [ctx.tenantId, deviceId])).rowCount ?? 0;
    const purge = { name, telemetryDeleted: await deleteFrom('telemetry'), eventsDeleted: await deleteFrom('device_events') };
    await recordSecurityEvent(tx, ctx, { type: 'DATA_PURGED', deviceId, details: purge });
    return purge;
  });
}

/** Resolved a moment ago, removed since by a concurrent request: the same answer as any unknown name. */
function gone(name: string): GatewayError {
  return new GatewayError('DEVICE_NOT_FOUND', `Not found, or no access: ${name}.`, { ids: [name] });
}

/** Replaces a device's capability set; whether anything voice platforms use (the names) changed. */
async function replaceCapabilities(tx: Tx, tenantId: string, deviceId: string, capabilities: Required<{ name: string; requiresPin: boolean; requiresApproval: boolean }>[]): Promise<boolean> {
  const names = capabilities.map((c) => c.name);
  const before = (await tx.query<{ capability: string }>('SELECT capability FROM device_capabilities WHERE device_id = $1', [deviceId])).rows.map((r) => r.capability);
  await tx.query('DELETE FROM device_capabilities WHERE device_id = $1 AND NOT (capability = ANY($2::text[]))', [deviceId, names]);
  if (capabilities.length > 0) {
    await tx.query(
      `INSERT INTO device_capabilities (tenant_id, device_id, capability, requires_pin, requires_approval)
       SELECT $1, $2, c.name, c.pin, c.approval FROM unnest($3::text[], $4::bool[], $5::bool[]) AS c(name, pin, approval)
       ON CONFLICT (device_id, capability) DO UPDATE SET requires_pin = excluded.requires_pin, requires_approval = excluded.requires_approval`,
      [tenantId, deviceId, names, capabilities.map((c) => c.requiresPin), capabilities.map((c) => c.requiresApproval)],
    );
  }
  return before.length !== names.length || names.some((n) => !before.includes(n));
}
