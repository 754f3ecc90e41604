import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import type { DeviceType } from '../capabilities/catalogue.js';
import { reportedState } from '../capabilities/reported-state.js';
import { DeviceChanges, purgeDeviceData, type Purge, type Removal } from './device-changes.js';
import type { DeviceChange, DeviceProfile, NewDevice } from './device-input.js';
import { DeviceProvisioning, type Confirmation, type RegisteredDevice } from './device-provisioning.js';

export type { CapabilitySpec, DeviceChange, NewDevice } from './device-input.js';
export type { RegisteredDevice } from './device-provisioning.js';

/** The most devices one batch state read takes (a Google QUERY or Alexa ReportState names a handful). */
export const MAX_STATE_BATCH = 500;

export type Device = DeviceProfile & {
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
  ownerUserId: string | null;
  certificateCn: string | null;
};

/** What a voice platform asks of a device right now (Google QUERY, Alexa ReportState). */
export type DeviceStateView = DeviceProfile & {
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

/** The columns of DeviceProfile, as `d` (devices). */
const PROFILE = 'd.display_name AS "displayName", d.nicknames, d.room';

/**
 * The device registry: who the devices of a tenant are and what they can do.
 * Registration (one or a batch) and changes live in their own files; this is
 * the one service adapters call.
 */
export class DeviceRegistry {
  private readonly provisioning: DeviceProvisioning;
  private readonly changes: DeviceChanges;

  constructor(private readonly db: Database, private readonly policy: AccessPolicy, events?: EventBus) {
    this.provisioning = new DeviceProvisioning(db, policy, events);
    this.changes = new DeviceChanges(db, policy, events);
  }

  /** Registers a device and issues its secret, shown once here and stored only as an argon2id hash. */
  register(ctx: TenantContext, input: NewDevice, options?: Confirmation): Promise<RegisteredDevice> {
    return this.provisioning.register(ctx, input, options);
  }

  /** Registers up to MAX_BATCH devices in one transaction, all or none. */
  registerBatch(ctx: TenantContext, inputs: readonly NewDevice[], options?: Confirmation): Promise<RegisteredDevice[]> {
    return this.provisioning.registerBatch(ctx, inputs, options);
  }

  update(ctx: TenantContext, name: string, change: DeviceChange & Confirmation): Promise<void> {
    return this.changes.update(ctx, name, change);
  }

  rotateSecret(ctx: TenantContext, name: string, options?: Confirmation): Promise<{ username: string; password: string }> {
    return this.changes.rotateSecret(ctx, name, options);
  }

  setStatus(ctx: TenantContext, name: string, status: Device['status'], options?: Confirmation): Promise<void> {
    return this.changes.setStatus(ctx, name, status, options);
  }

  remove(ctx: TenantContext, name: string, options?: Confirmation & { purge?: boolean }): Promise<Removal> {
    return this.changes.remove(ctx, name, options);
  }

  purgeData(ctx: TenantContext, name: string, options?: Confirmation): Promise<Purge> {
    return purgeDeviceData(this.db, this.policy, ctx, name, options);
  }

  async get(ctx: TenantContext, name: string): Promise<DeviceDetail> {
    const { resolved } = await this.policy.requireAccess(ctx, 'device.read', [name]);
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<DeviceDetail>(
        `SELECT d.id, d.name, d.type, d.status, d.online, d.last_seen_at AS "lastSeenAt", d.created_at AS "createdAt", ${PROFILE},
                d.owner_user_id AS "ownerUserId", d.certificate_cn AS "certificateCn", s.state, s.updated_at AS "stateUpdatedAt",
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
        `SELECT d.id, d.name, d.type, d.status, d.online, d.last_seen_at AS "lastSeenAt", d.created_at AS "createdAt", ${PROFILE} FROM devices d ORDER BY d.name`,
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
        `SELECT d.id, d.name, d.type, d.online, d.last_seen_at AS "lastSeenAt", ${PROFILE}, s.state, s.updated_at AS "stateUpdatedAt",
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
