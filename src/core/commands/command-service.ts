import type { TenantContext } from '../../auth/context.js';
import type { Database, Tx } from '../../db/database.js';
import { checkCommandParams, resolveCommand, riskOf, type DeviceCapability, type ResolvedCommand } from '../capabilities/device-commands.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { CommandMessage, EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import type { PinGate } from './pin-gate.js';

export type CommandStatus = 'pending' | 'delivered' | 'succeeded' | 'failed' | 'expired';
export type Command = {
  id: string; device: string; name: string; params: Record<string, unknown>; status: CommandStatus;
  result: unknown; createdAt: Date; expiresAt: Date; deliveredAt: Date | null; completedAt: Date | null;
};
export type CommandRequest = { name: string; params?: Record<string, unknown>; ttlSeconds?: number; pin?: string };

const TERMINAL = new Set<CommandStatus>(['succeeded', 'failed', 'expired']);
export const MAX_TTL_SECONDS = 7 * 24 * 3600;
const SELECT = `SELECT c.id, d.name AS device, c.name, c.params, c.status, c.result, c.created_at AS "createdAt",
                       c.expires_at AS "expiresAt", c.delivered_at AS "deliveredAt", c.completed_at AS "completedAt"
                  FROM commands c JOIN devices d ON d.id = c.device_id`;

async function capabilitiesOf(tx: Tx, deviceId: string): Promise<DeviceCapability[]> {
  const { rows } = await tx.query<DeviceCapability>(
    'SELECT capability AS name, requires_pin AS "requiresPin", requires_approval AS "requiresApproval" FROM device_capabilities WHERE device_id = $1', [deviceId],
  );
  return rows;
}

export function commandMessage(command: Pick<Command, 'id' | 'name' | 'params' | 'createdAt' | 'expiresAt'>): CommandMessage {
  return { id: command.id, name: command.name, params: command.params, issuedAt: command.createdAt.toISOString(), expiresAt: command.expiresAt.toISOString() };
}

/**
 * Commands: persisted before they are published, then moved
 * pending → delivered (the device's PUBACK) → succeeded | failed (its result)
 * or → expired (the TTL passed first).
 */
export class CommandService {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly pins: PinGate, private readonly events: EventBus) {}

  async issue(ctx: TenantContext, deviceName: string, request: CommandRequest): Promise<Command> {
    const ttl = request.ttlSeconds ?? 60;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new GatewayError('VALIDATION_FAILED', `ttlSeconds must be 1..${MAX_TTL_SECONDS}.`);
    const { resolved } = await this.policy.requireAccess(ctx, 'device.command', [deviceName]);
    const deviceId = resolved.get(deviceName)!;
    const capabilities = await this.db.withTenant(ctx, (tx) => capabilitiesOf(tx, deviceId));
    // Default deny: a device accepts only the commands of its capabilities.
    const accepted = resolveCommand(capabilities, request.name);
    if (!accepted) throw new GatewayError('POLICY_DENIED', `Device ${deviceName} has no capability accepting "${request.name}".`, { capability: request.name, command: request.name });
    checkCommandParams(accepted, request.params ?? {});
    // The tenant's explicit flags, as before the catalogue. The gate for the catalogue's risk classes
    // (PIN on voice, confirmation on web and mobile, approval for critical) builds on riskOf.
    const flagged = capabilities.find((c) => c.name === accepted.capability)!;
    if (flagged.requiresPin || flagged.requiresApproval) {
      const grant = await this.policy.requireAccess(ctx, 'device.command.sensitive', [deviceName]);
      if (flagged.requiresPin || grant.obligations.includes('pin')) await this.pins.verify(ctx, request.pin, request.name);
    }
    const command = await this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO commands (tenant_id, device_id, name, params, issued_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING id`,
        [ctx.tenantId, deviceId, request.name, JSON.stringify(request.params ?? {}), JSON.stringify({ ...ctx.principal, channel: ctx.channel }), ttl],
      );
      await recordSecurityEvent(tx, ctx, { type: 'COMMAND_SENT', deviceId, details: { command: request.name, commandId: rows[0]!.id } });
      return (await tx.query<Command>(`${SELECT} WHERE c.id = $1`, [rows[0]!.id])).rows[0]!;
    });
    this.events.emit('command.issued', { tenantId: ctx.tenantId, deviceName, command: commandMessage(command) });
    return command;
  }

  /**
   * How dangerous `command` is on this device: the capability that accepts it,
   * the catalogue's risk class and the effective one (raised, never lowered,
   * by the tenant's per-device tightening). POLICY_DENIED when the device has
   * no capability accepting it.
   */
  async riskOf(ctx: TenantContext, deviceName: string, command: string): Promise<ResolvedCommand> {
    const { resolved } = await this.policy.requireAccess(ctx, 'device.read', [deviceName]);
    const capabilities = await this.db.withTenant(ctx, (tx) => capabilitiesOf(tx, resolved.get(deviceName)!));
    const risk = riskOf({ capabilities }, command);
    if (!risk) throw new GatewayError('POLICY_DENIED', `Device ${deviceName} has no capability accepting "${command}".`, { capability: command, command });
    return risk;
  }

  async get(ctx: TenantContext, id: string): Promise<Command> {
    this.policy.check(ctx, 'device.read');
    const command = /^[0-9a-f-]{36}$/i.test(id) ? await this.db.withTenant(ctx, async (tx) => (await tx.query<Command>(`${SELECT} WHERE c.id = $1`, [id])).rows[0]) : undefined;
    if (!command) throw new GatewayError('NOT_FOUND', 'No such command, or no access to it.');
    return command;
  }

  /** The command once it reaches a final status, or as it is when `timeoutMs` runs out. */
  async waitFor(ctx: TenantContext, id: string, timeoutMs: number): Promise<Command> {
    const current = await this.get(ctx, id);
    if (TERMINAL.has(current.status) || timeoutMs <= 0) return current;
    await new Promise<void>((resolve) => {
      const waiters = this.waiters.get(id) ?? new Set();
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      waiters.add(wake);
      this.waiters.set(id, waiters);
    });
    return this.get(ctx, id);
  }

  /** The device acknowledged the command's PUBLISH. */
  async markDelivered(device: TenantContext, commandId: string): Promise<void> {
    await this.db.withTenant(device, (tx) =>
      tx.query(`UPDATE commands SET status = 'delivered', delivered_at = now() WHERE id = $1 AND device_id = $2 AND status = 'pending'`, [commandId, device.principal.id]),
    );
  }

  /** The device's result: `{ status: "ok" | "error", … }`. A result for an expired or finished command changes nothing. */
  async complete(device: TenantContext, commandId: string, result: Record<string, unknown>): Promise<boolean> {
    if (!/^[0-9a-f-]{36}$/i.test(commandId)) return false;
    const status: CommandStatus = result.status === 'ok' ? 'succeeded' : 'failed';
    const { rowCount } = await this.db.withTenant(device, (tx) =>
      tx.query(
        `UPDATE commands SET status = $3, result = $4, completed_at = now(), delivered_at = coalesce(delivered_at, now())
          WHERE id = $1 AND device_id = $2 AND status IN ('pending', 'delivered') AND expires_at > now()`,
        [commandId, device.principal.id, status, JSON.stringify(result)],
      ),
    );
    if (rowCount) this.wake(commandId);
    return Boolean(rowCount);
  }

  /** Commands a device should still receive: not finished, not expired, oldest first. */
  async outstandingFor(device: TenantContext): Promise<CommandMessage[]> {
    const rows = await this.db.withTenant(device, async (tx) =>
      (await tx.query<Command>(`${SELECT} WHERE c.device_id = $1 AND c.status IN ('pending', 'delivered') AND c.expires_at > now() ORDER BY c.created_at`, [device.principal.id])).rows,
    );
    return rows.map(commandMessage);
  }

  /** Marks overdue commands expired (every node runs this; the UPDATE is idempotent). */
  async expireOverdue(): Promise<number> {
    const rows = await this.db.platformQuery<{ id: string }>(
      `UPDATE commands SET status = 'expired', completed_at = now() WHERE status IN ('pending', 'delivered') AND expires_at <= now() RETURNING id`, [],
    );
    for (const row of rows) this.wake(row.id);
    return rows.length;
  }

  private wake(id: string): void {
    for (const wake of this.waiters.get(id) ?? []) wake();
  }
}
