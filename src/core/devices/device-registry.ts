import type { TenantContext } from '../../auth/context.js';
import { generateSecret, hashSecret } from '../../auth/secrets.js';
import type { Database } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { CAPABILITY_NAME, assertDeviceName, deviceUsername } from './device-name.js';

export type CapabilitySpec = { name: string; requiresPin?: boolean; requiresApproval?: boolean };

export type RegisteredDevice = { id: string; name: string; username: string; password: string };

export type Device = {
  id: string;
  name: string;
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

/** The device registry: who the devices of a tenant are and what they can do. */
export class DeviceRegistry {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly events?: EventBus) {}

  /** Registers a device and issues its secret, shown once here and stored only as an argon2id hash. */
  async register(ctx: TenantContext, input: { name: string; capabilities?: CapabilitySpec[] }): Promise<RegisteredDevice> {
    await this.policy.requireAccess(ctx, 'device.register');
    assertDeviceName(input.name);
    const capabilities = input.capabilities ?? [];
    for (const capability of capabilities) {
      if (!CAPABILITY_NAME.test(capability.name)) {
        throw new GatewayError('VALIDATION_FAILED', `Capability "${capability.name}" must be lower-case letters, digits, "_", "." or "-", starting with a letter.`);
      }
    }
    const password = generateSecret('gd');
    const secretHash = await hashSecret(password);
    try {
      return await this.db.withTenant(ctx, async (tx) => {
        const tenant = await tx.query<{ slug: string }>('SELECT slug FROM tenants');
        const username = deviceUsername(input.name, tenant.rows[0]!.slug);
        const { rows } = await tx.query<{ id: string }>(
          'INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, $2, $3, $4) RETURNING id',
          [ctx.tenantId, input.name, username, secretHash],
        );
        const id = rows[0]!.id;
        if (capabilities.length > 0) {
          await tx.query(
            `INSERT INTO device_capabilities (tenant_id, device_id, capability, requires_pin, requires_approval)
             SELECT $1, $2, c.name, c.pin, c.approval FROM unnest($3::text[], $4::bool[], $5::bool[]) AS c(name, pin, approval)`,
            [ctx.tenantId, id, capabilities.map((c) => c.name), capabilities.map((c) => Boolean(c.requiresPin)), capabilities.map((c) => Boolean(c.requiresApproval))],
          );
        }
        await recordSecurityEvent(tx, ctx, { type: 'DEVICE_CREATED', deviceId: id, details: { name: input.name, capabilities } });
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
        `SELECT d.id, d.name, d.status, d.online, d.last_seen_at AS "lastSeenAt", d.created_at AS "createdAt",
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
        `SELECT id, name, status, online, last_seen_at AS "lastSeenAt", created_at AS "createdAt" FROM devices ORDER BY name`,
      );
      return rows;
    });
  }
}
