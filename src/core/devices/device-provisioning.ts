import type { TenantContext } from '../../auth/context.js';
import { generateSecret, hashSecrets } from '../../auth/secrets.js';
import type { Database, Tx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { recordSecurityEvents } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { requireConfirmation } from '../policy/confirmation.js';
import { batchRefused, checkBatch, checkNewDevice, type CheckedDevice, type DeviceProblem, type NewDevice } from './device-input.js';
import { deviceUsername } from './device-name.js';

export type RegisteredDevice = { id: string; name: string; username: string; password: string };

export type Confirmation = { confirm?: boolean };

/** Owner ids that are not members of the tenant (row-level security shows only its memberships). */
export async function strangers(tx: Tx, userIds: readonly (string | null)[]): Promise<Set<string>> {
  const wanted = [...new Set(userIds.filter((id): id is string => id !== null))];
  if (wanted.length === 0) return new Set();
  const { rows } = await tx.query<{ user_id: string }>('SELECT user_id FROM memberships WHERE user_id = ANY($1::uuid[])', [wanted]);
  const members = new Set(rows.map((row) => row.user_id));
  return new Set(wanted.filter((id) => !members.has(id)));
}

const INSERT_DEVICES = `
  INSERT INTO devices (tenant_id, name, type, username, secret_hash, display_name, nicknames, room, owner_user_id, certificate_cn)
  SELECT $1, d.name, d.type, d.username, d.hash, d.display_name,
         ARRAY(SELECT jsonb_array_elements_text(d.nicknames::jsonb)), d.room, d.owner, d.cn
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[])
         AS d(name, type, username, hash, display_name, nicknames, room, owner, cn)
  RETURNING id, name`;

const INSERT_CAPABILITIES = `
  INSERT INTO device_capabilities (tenant_id, device_id, capability, requires_pin, requires_approval)
  SELECT $1, c.device_id, c.name, c.pin, c.approval FROM unnest($2::uuid[], $3::text[], $4::bool[], $5::bool[]) AS c(device_id, name, pin, approval)`;

/**
 * Registration of devices, one or a fleet at once: checked as a whole, hashed
 * outside any transaction (argon2id is the cost), then written in one
 * transaction with one multi-row statement per table, audited device by device
 * and announced (`device.registered`) after the commit.
 */
export class DeviceProvisioning {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly events?: EventBus) {}

  async register(ctx: TenantContext, input: NewDevice, options: Confirmation = {}): Promise<RegisteredDevice> {
    const grant = await this.policy.requireAccess(ctx, 'device.register');
    requireConfirmation(grant, options.confirm, 'Registering a device');
    const { device, problems, named } = checkNewDevice(input);
    if (!device) throw new GatewayError('VALIDATION_FAILED', problems.join(' '), { ...named, problems });
    const [registered] = await this.create(ctx, [device]);
    return registered!;
  }

  /** Up to MAX_BATCH devices, all or none; a 400 names every bad entry by its index. */
  async registerBatch(ctx: TenantContext, inputs: readonly NewDevice[], options: Confirmation = {}): Promise<RegisteredDevice[]> {
    const grant = await this.policy.requireAccess(ctx, 'device.register');
    requireConfirmation(grant, options.confirm, 'Registering devices');
    const { devices, problems } = checkBatch(inputs);
    // Checked against the tenant before seconds of hashing: names taken, owners who are not members.
    problems.push(...(await this.db.withTenant(ctx, (tx) => this.clashes(tx, inputs))));
    if (problems.length > 0) throw batchRefused(problems.sort((a, b) => a.index - b.index));
    return this.create(ctx, devices);
  }

  private async clashes(tx: Tx, inputs: readonly NewDevice[]): Promise<DeviceProblem[]> {
    const { rows } = await tx.query<{ name: string }>('SELECT name FROM devices WHERE name = ANY($1::text[])', [inputs.map((d) => d.name)]);
    const taken = new Set(rows.map((row) => row.name));
    const outsiders = await strangers(tx, inputs.map((d) => (d.ownerUserId && /^[0-9a-f-]{36}$/i.test(d.ownerUserId) ? d.ownerUserId : null)));
    return inputs.flatMap((input, index) => [
      ...(taken.has(input.name) ? [{ index, name: input.name, message: `A device named "${input.name}" already exists in this tenant.` }] : []),
      ...(input.ownerUserId && outsiders.has(input.ownerUserId) ? [{ index, name: input.name, message: `ownerUserId ${input.ownerUserId} is not a member of this tenant.` }] : []),
    ]);
  }

  private async create(ctx: TenantContext, devices: CheckedDevice[]): Promise<RegisteredDevice[]> {
    const passwords = devices.map(() => generateSecret('gd'));
    // Generated secrets: argon2id at ~1 ms each (secrets.ts), so 1 000 cost ~1 s, not ~12 s of both cores.
    const hashes = await hashSecrets(passwords, 'generated');
    try {
      return await this.db.withTenant(ctx, async (tx) => {
        const outsiders = await strangers(tx, devices.map((d) => d.ownerUserId));
        if (outsiders.size > 0) throw new GatewayError('VALIDATION_FAILED', `ownerUserId ${[...outsiders].join(', ')} is not a member of this tenant.`, { ownerUserIds: [...outsiders] });
        const slug = (await tx.query<{ slug: string }>('SELECT slug FROM tenants')).rows[0]!.slug;
        const usernames = devices.map((d) => deviceUsername(d.name, slug));
        const { rows } = await tx.query<{ id: string; name: string }>(INSERT_DEVICES, [
          ctx.tenantId, devices.map((d) => d.name), devices.map((d) => d.type), usernames, hashes,
          devices.map((d) => d.displayName), devices.map((d) => JSON.stringify(d.nicknames)), devices.map((d) => d.room),
          devices.map((d) => d.ownerUserId), devices.map((d) => d.certificateCn),
        ]);
        const ids = new Map(rows.map((row) => [row.name, row.id]));
        const capabilities = devices.flatMap((d) => d.capabilities.map((c) => ({ deviceId: ids.get(d.name)!, ...c })));
        if (capabilities.length > 0) {
          await tx.query(INSERT_CAPABILITIES, [
            ctx.tenantId, capabilities.map((c) => c.deviceId), capabilities.map((c) => c.name),
            capabilities.map((c) => c.requiresPin), capabilities.map((c) => c.requiresApproval),
          ]);
        }
        await recordSecurityEvents(tx, ctx, devices.map((d) => ({
          type: 'DEVICE_CREATED' as const, deviceId: ids.get(d.name),
          details: { name: d.name, type: d.type, capabilities: d.capabilities, ownerUserId: d.ownerUserId, certificateCn: d.certificateCn, batch: devices.length > 1 },
        })));
        tx.afterCommit(() => {
          for (const d of devices) this.events?.emit('device.registered', { tenantId: ctx.tenantId, deviceId: ids.get(d.name)!, deviceName: d.name });
        });
        return devices.map((d, i) => ({ id: ids.get(d.name)!, name: d.name, username: usernames[i]!, password: passwords[i]! }));
      });
    } catch (error) {
      throw conflictOf(error, devices) ?? error;
    }
  }
}

/** A unique violation, said in the caller's words: a name taken meanwhile, or a certificate CN any tenant holds. */
export function conflictOf(error: unknown, devices: readonly { name: string; certificateCn?: string | null }[]): GatewayError | undefined {
  if (isUniqueViolation(error, 'devices_certificate_cn_key')) {
    // Postgres does not name the value here (row-level security hides a key's detail), nor may we look: the holder may be another tenant's.
    const certificateCn = devices.length === 1 ? devices[0]!.certificateCn : undefined;
    const which = certificateCn ? `the certificate CN "${certificateCn}"` : 'a certificate CN of this batch (nothing was created)';
    return new GatewayError('CONFLICT', `A device already holds ${which}; CNs are unique across the gateway, whose TLS listener is shared.`, certificateCn ? { certificateCn } : {});
  }
  if (isUniqueViolation(error)) {
    return new GatewayError('CONFLICT', devices.length === 1 ? `A device named "${devices[0]!.name}" already exists in this tenant.` : 'A device of this batch was registered meanwhile; nothing was created.', devices.length === 1 ? { name: devices[0]!.name } : {});
  }
  return undefined;
}
