import type { TenantContext } from '../../auth/context.js';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import type { Database } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { assertCapabilityName, assertDeviceType, type DeviceType } from '../capabilities/catalogue.js';
import { reportedState } from '../capabilities/reported-state.js';
import { assertDeviceName, deviceUsername } from './device-name.js';

/** A capability of a new device, with the tenant's tightening of its commands' risk (`lock:pin`: unlocking and locking need the PIN). */
export type CapabilitySpec = { name: string; requiresPin?: boolean; requiresApproval?: boolean };

/** The most devices one batch state read takes (a Google QUERY or Alexa ReportState names a handful). */
export const MAX_STATE_BATCH = 500;

export type RegisteredDevice = { id: string; name: string; username: string; password: string };

export type Device = {
  id: string;
  name: string;
  type: DeviceType;
  status: 'active' | 'suspended' | 'revoked';
  online: boolean;
  lastSeenAt: Date | null;
  createdAt: Date;
};

export type DeviceDetail = Device & {
  state: unknown;
  stateUpdatedAt: Date | null;
  telemetryCount: number;
  capabilities: { name: string; requiresPin: boolean; requiresApproval: boolean }[];
};

/** What a voice platform asks of a device right now (Google QUERY, Alexa ReportState). */
export type DeviceStateView = {
  id: string;
  name: string;
  type: DeviceType;
  online: boolean;
  lastSeenAt: Date | null;
  /** The retained state JSON as the device sent it, or null before its first. */
  state: unknown;
  stateUpdatedAt: Date | null;
  /** The fields its capabilities report (the catalogue's), read from `state`. */
  reported: Record<string, unknown>;
  capabilities: string[];
};

/** The device registry: who the devices of a tenant are and what they can do. */
export class DeviceRegistry {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly events?: EventBus) {}

  /** Registers a device and issues its secret, shown once here and stored only as an argon2id hash. */
  async register(ctx: TenantContext, input: { name: string; type?: string; capabilities?: CapabilitySpec[] }): Promise<RegisteredDevice> {
    await this.policy.requireAccess(ctx, 'device.register');
    assertDeviceName(input.name);
    const type = assertDeviceType(input.type ?? 'other');
    const capabilities = input.capabilities ?? [];
    const seen = new Set<string>();
    for (const capability of capabilities) {
      assertCapabilityName(capability.name);
      if (seen.has(capability.name)) throw new GatewayError('VALIDATION_FAILED', `Capability "${capability.name}" is given twice.`, { capability: capability.name });
      seen.add(capability.name);
    }
    const password = generateSecret('gd');
    const secretHash = await hashSecret(password);
    try {
      return await this.db.withTenant(ctx, async (tx) => {
        const tenant = await tx.query<{ slug: string }>('SELECT slug FROM tenants');
        const username = deviceUsername(input.name, tenant.rows[0]!.slug);
        const { rows } = await tx.query<{ id: string }>(
          'INSERT INTO devices (tenant_id, name, type, username, secret_hash) VALUES ($1, $2, $3, $4, $5) RETURNING id',
          [ctx.tenantId, input.name, type, username, secretHash],
        );
        const id = rows[0]!.id;
        if (capabilities.length > 0) {
          await tx.query(
            `INSERT INTO device_capabilities (tenant_id, device_id, capability, requires_pin, requires_approval)
             SELECT $1, $2, c.name, c.pin, c.approval FROM unnest($3::text[], $4::bool[], $5::bool[]) AS c(name, pin, approval)`,
            [ctx.tenantId, id, capabilities.map((c) => c.name), capabilities.map((c) => Boolean(c.requiresPin)), capabilities.map((c) => Boolean(c.requiresApproval))],
          );
        }
        await recordSecurityEvent(tx, ctx, { type: 'DEVICE_CREATED', deviceId: id, details: { name: input.name, type, capabilities } });
        tx.afterCommit(() => this.events?.emit('device.registered', { tenantId: ctx.tenantId, deviceId: id, deviceName: input.name }));
        return { id, name: input.name, username, password };
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new GatewayError('CONFLICT', `A device named "${input.name}" already exists in this tenant.`, { name: input.name });
      throw error;
    }
  }

  /** Issues a new secret; the old one stops working at once (its hash is gone). */
  async rotateSecret(ctx: TenantContext, name: string): Promise<{ username: string; password: string }> {
    const { resolved } = await this.policy.requireAccess(ctx, 'device.manage', [name]);
    const password = generateSecret('gd');
    const secretHash = await hashSecret(password);
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ username: string }>(
        'UPDATE devices SET secret_hash = $2, updated_at = now() WHERE id = $1 RETURNING username', [resolved.get(name), secretHash],
      );
      await recordSecurityEvent(tx, ctx, { type: 'DEVICE_SECRET_ROTATED', deviceId: resolved.get(name) });
      tx.afterCommit(() => this.events?.emit('device.access.revoked', { tenantId: ctx.tenantId, deviceId: resolved.get(name)! }));
      return { username: rows[0]!.username, password };
    });
  }

  /** Suspends, revokes or reinstates a device; its live connections are dropped at once and it cannot connect again. */
  async setStatus(ctx: TenantContext, name: string, status: Device['status']): Promise<void> {
    const { resolved } = await this.policy.requireAccess(ctx, 'device.manage', [name]);
    await this.db.withTenant(ctx, async (tx) => {
      await tx.query('UPDATE devices SET status = $2, updated_at = now() WHERE id = $1', [resolved.get(name), status]);
      await recordSecurityEvent(tx, ctx, { type: 'DEVICE_STATUS_CHANGED', deviceId: resolved.get(name), details: { status } });
    });
    if (status !== 'active') this.events?.emit('device.access.revoked', { tenantId: ctx.tenantId, deviceId: resolved.get(name)! });
  }

  async get(ctx: TenantContext, name: string): Promise<DeviceDetail> {
    const { resolved } = await this.policy.requireAccess(ctx, 'device.read', [name]);
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<DeviceDetail>(
        `SELECT d.id, d.name, d.type, d.status, d.online, d.last_seen_at AS "lastSeenAt", d.created_at AS "createdAt",
                s.state, s.updated_at AS "stateUpdatedAt",
                (SELECT count(*)::int FROM telemetry t WHERE t.device_id = d.id) AS "telemetryCount",
                coalesce((SELECT json_agg(json_build_object('name', c.capability, 'requiresPin', c.requires_pin, 'requiresApproval', c.requires_approval) ORDER BY c.capability)
                            FROM device_capabilities c WHERE c.device_id = d.id), '[]') AS capabilities
           FROM devices d LEFT JOIN device_state s ON s.device_id = d.id
          WHERE d.id = $1`,
        [resolved.get(name)],
      );
      return rows[0]!;
    });
  }

  async list(ctx: TenantContext): Promise<Device[]> {
    await this.policy.requireAccess(ctx, 'device.read');
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<Device>(
        `SELECT id, name, type, status, online, last_seen_at AS "lastSeenAt", created_at AS "createdAt" FROM devices ORDER BY name`,
      );
      return rows;
    });
  }

  /**
   * Current state, presence and last seen of several devices in one query
   * (Google QUERY, Alexa ReportState). Names this tenant has no device by come
   * back in `missing`, exactly as names of another tenant's devices do.
   */
  async readStates(ctx: TenantContext, names: readonly string[]): Promise<{ devices: DeviceStateView[]; missing: string[] }> {
    await this.policy.requireAccess(ctx, 'device.read');
    const unique = [...new Set(names)];
    if (unique.length > MAX_STATE_BATCH) throw new GatewayError('VALIDATION_FAILED', `At most ${MAX_STATE_BATCH} devices per state read.`);
    if (unique.length === 0) return { devices: [], missing: [] };
    const rows = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<Omit<DeviceStateView, 'reported'>>(
        `SELECT d.id, d.name, d.type, d.online, d.last_seen_at AS "lastSeenAt", s.state, s.updated_at AS "stateUpdatedAt",
                coalesce((SELECT array_agg(c.capability ORDER BY c.capability) FROM device_capabilities c WHERE c.device_id = d.id), '{}') AS capabilities
           FROM devices d LEFT JOIN device_state s ON s.device_id = d.id
          WHERE d.name = ANY($1::text[])`,
        [unique],
      )).rows,
    );
    const byName = new Map(rows.map((row) => [row.name, { ...row, state: row.state ?? null, reported: reportedState(row.capabilities, row.state) }]));
    return {
      devices: unique.flatMap((name) => byName.get(name) ?? []),
      missing: unique.filter((name) => !byName.has(name)),
    };
  }
}
