import type { TenantContext } from '../../auth/context.js';
import type { Database, Tx } from '../../db/database.js';
import { checkCommandParams, resolveCommand, type DeviceCapability, type ResolvedCommand } from '../capabilities/device-commands.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { CommandMessage, CommandStatus, EventBus } from '../event-bus.js';
import type { NotificationOutbox } from '../notifications/notification-outbox.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { gateFor, isVoiceChannel } from '../policy/obligations.js';
import { riskOfCapability, type VoicePolicy } from '../voice-policy.js';
import type { PinGate } from './pin-gate.js';
import type { AutomationTriggers } from '../automations/automation-triggers.js';

export type { CommandStatus };
export type Command = {
  id: string; device: string; name: string; params: Record<string, unknown>; status: CommandStatus;
  result: unknown; createdAt: Date; expiresAt: Date; deliveredAt: Date | null; completedAt: Date | null;
};
export type CommandRequest = {
  name: string; params?: Record<string, unknown>; ttlSeconds?: number; pin?: string;
  /** Web and mobile: the person confirmed a sensitive command (the matrix's `confirm`). */
  confirm?: boolean;
  /** Alexa Smart Home's Unlock: Alexa checked its own voice code (stands in for the PIN only where the tenant's voice policy says so). */
  platformVoiceCode?: boolean;
  /** The caller's retry key (Idempotency-Key): the same key from the same caller within a day answers with the same command. */
  idempotencyKey?: string;
};

const TERMINAL = new Set<CommandStatus>(['succeeded', 'failed', 'expired', 'denied']);
export const MAX_TTL_SECONDS = 7 * 24 * 3600;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
export const SELECT = `SELECT c.id, d.name AS device, c.name, c.params, c.status, c.result, c.created_at AS "createdAt",
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

/** The Idempotency-Key as stored: scoped to its caller, so two callers' keys never meet. */
function scopedKey(ctx: TenantContext, key: string | undefined): string | null {
  if (key === undefined) return null;
  if (!IDEMPOTENCY_KEY.test(key)) throw new GatewayError('VALIDATION_FAILED', 'Idempotency-Key must be 1..200 visible ASCII characters.');
  return `${ctx.principal.kind}:${ctx.principal.id}:${key}`;
}

async function findByKey(tx: Tx, key: string): Promise<Command | undefined> {
  return (await tx.query<Command>(`${SELECT} WHERE c.idempotency_key = $1 AND c.created_at > now() - interval '1 day' ORDER BY c.created_at DESC LIMIT 1`, [key])).rows[0];
}

/**
 * Commands: persisted before they are published, then moved
 * pending → delivered (the device's PUBACK) → succeeded | failed (its result)
 * or → expired (the TTL passed first).
 */
export class CommandService {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly db: Database,
    private readonly policy: AccessPolicy,
    private readonly pins: PinGate,
    private readonly events: EventBus,
    private readonly voice: VoicePolicy,
    private readonly outbox: NotificationOutbox,
    /** Automations triggered by a command's failure: their runs are written in the failure's transaction. */
    private readonly triggers?: AutomationTriggers,
  ) {
    // A waiter may sit on another node than the one that moved its command on (the device's, the approver's):
    // the change is heard on every node (FLEET_EVENTS). Here, where it also wakes directly, a second wake finds no one.
    events.on('command.status.changed', ({ commandId, status }) => {
      if (status !== 'delivered' && status !== 'awaiting_approval') this.wake(commandId);
    });
  }

  /**
   * The one way a command comes into being, for every channel. The gate, in
   * order: the matrix (device.command, and device.command.sensitive for
   * sensitive and critical commands), then every obligation it returns
   * (gateFor: voice policy, confirmation, PIN), then a person's approval for
   * critical commands (persisted awaiting_approval, not sent). `requireOnline`
   * refuses with DEVICE_OFFLINE a command whose caller waits for the result.
   */
  async issue(ctx: TenantContext, deviceName: string, request: CommandRequest, options: { requireOnline?: boolean } = {}): Promise<Command> {
    const ttl = request.ttlSeconds ?? 60;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) throw new GatewayError('VALIDATION_FAILED', `ttlSeconds must be 1..${MAX_TTL_SECONDS}.`);
    const key = scopedKey(ctx, request.idempotencyKey);
    const passed = await this.passGate(ctx, deviceName, request, key);
    if (passed.earlier) return passed.earlier;
    const { deviceId, accepted, gate, online } = passed;
    const channel = ctx.channel;
    if (gate.pin) await this.pins.verify(ctx, request.pin, request.name);
    if (options.requireOnline && !gate.approval && !online) {
      throw new GatewayError('DEVICE_OFFLINE', `Device ${deviceName} is offline; nothing was sent.`, { device: deviceName });
    }
    const status: CommandStatus = gate.approval ? 'awaiting_approval' : 'pending';
    return this.db.withTenant(ctx, async (tx) => {
      if (key) {
        // Two concurrent requests with one key: the second waits here and finds the first's command.
        await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${ctx.tenantId}/${key}`]);
        const earlier = await findByKey(tx, key);
        if (earlier) return earlier;
      }
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO commands (tenant_id, device_id, name, params, issued_by, expires_at, status, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), $7, $8) RETURNING id`,
        [ctx.tenantId, deviceId, request.name, JSON.stringify(request.params ?? {}), JSON.stringify({ ...ctx.principal, channel }), ttl, status, key],
      );
      const id = rows[0]!.id;
      const details = { command: request.name, commandId: id, risk: accepted.risk, pin: gate.pin, confirmed: request.confirm === true, ...(gate.platformVoiceCode ? { platformVoiceCode: true } : {}) };
      await recordSecurityEvent(tx, ctx, { type: gate.approval ? 'APPROVAL_REQUESTED' : 'COMMAND_SENT', deviceId, details });
      const command = (await tx.query<Command>(`${SELECT} WHERE c.id = $1`, [id])).rows[0]!;
      if (gate.approval) await this.outbox.approvalRequested(tx, ctx.tenantId, { commandId: id, deviceId, command: request.name, requestedBy: ctx.principal.id });
      tx.afterCommit(() => {
        const tenantId = ctx.tenantId;
        this.events.emit('command.status.changed', { tenantId, commandId: id, deviceId, status });
        if (gate.approval) this.events.emit('approval.requested', { tenantId, commandId: id, deviceId, requestedBy: { kind: ctx.principal.kind, id: ctx.principal.id } });
        else this.events.emit('command.issued', { tenantId, deviceName, command: commandMessage(command) });
      });
      return command;
    });
  }

  /**
   * issue(), then wait up to `waitMs` for the device's result (voice platforms
   * answer within seconds): DEVICE_OFFLINE before anything is sent to an
   * offline device, COMMAND_TIMEOUT when the wait runs out (the command stays
   * pending). A command awaiting approval is answered at once: no one waits for a person.
   */
  async issueAndWait(ctx: TenantContext, deviceName: string, request: CommandRequest, waitMs: number): Promise<Command> {
    const command = await this.issue(ctx, deviceName, request, { requireOnline: waitMs > 0 });
    if (waitMs <= 0 || command.status === 'awaiting_approval' || TERMINAL.has(command.status)) return command;
    const done = await this.waitFor(ctx, command.id, waitMs);
    if (!TERMINAL.has(done.status)) {
      throw new GatewayError('COMMAND_TIMEOUT', `Device ${deviceName} did not finish "${request.name}" in time; it is still ${done.status}.`, { commandId: done.id, status: done.status });
    }
    return done;
  }

  /**
   * Every check issue() makes before it writes, without writing and without
   * verifying a PIN: throws what issue() would throw (POLICY_DENIED,
   * CONFIRMATION_REQUIRED, DEVICE_NOT_FOUND, VALIDATION_FAILED…) and answers
   * whether the command would need the caller's PIN and a person's approval.
   * A scene checks all its commands with it before running any.
   */
  async preflight(ctx: TenantContext, deviceName: string, request: Omit<CommandRequest, 'pin' | 'idempotencyKey'>): Promise<{ pin: boolean; approval: boolean; risk: string }> {
    const passed = await this.passGate(ctx, deviceName, request, null);
    if (passed.earlier) throw new Error('unreachable: no key, no earlier command');
    return { ...passed.gate, risk: passed.accepted.risk };
  }

  /** The caller's voice PIN, verified once (a scene's commands then pass with it); PIN_REQUIRED, PIN_INVALID, PIN_LOCKED. */
  verifyPin(ctx: TenantContext, pin: string | undefined, what: string): Promise<void> {
    return this.pins.verify(ctx, pin, what);
  }

  private async passGate(ctx: TenantContext, deviceName: string, request: Omit<CommandRequest, 'pin' | 'idempotencyKey'>, key: string | null) {
    const base = await this.policy.requireAccess(ctx, 'device.command', [deviceName]);
    const deviceId = base.resolved.get(deviceName)!;
    const { earlier, capabilities, online } = await this.db.withTenant(ctx, async (tx) => ({
      // A retry answers with what the first attempt made, without passing the gate (or counting a PIN) again.
      earlier: key ? await findByKey(tx, key) : undefined,
      capabilities: await capabilitiesOf(tx, deviceId),
      online: (await tx.query<{ online: boolean }>('SELECT online FROM devices WHERE id = $1', [deviceId])).rows[0]?.online ?? false,
    }));
    if (earlier) return { earlier: earlier as Command };
    // Default deny: a device accepts only the commands of its capabilities.
    const accepted = resolveCommand(capabilities, request.name);
    if (!accepted) throw new GatewayError('POLICY_DENIED', `Device ${deviceName} has no capability accepting "${request.name}".`, { capability: request.name, command: request.name });
    checkCommandParams(accepted, request.params ?? {});
    const grant = accepted.risk === 'normal' ? base : await this.policy.requireAccess(ctx, 'device.command.sensitive', [deviceName]);
    const channel = ctx.channel;
    const voiceRule = isVoiceChannel(channel) ? await this.db.withTenant(ctx, (tx) => this.voice.ruleFor(tx, channel, accepted.capability)) : undefined;
    const gate = gateFor({
      channel, risk: accepted.risk, catalogueRisk: accepted.catalogueRisk, obligations: grant.obligations, devicePin: accepted.requiresPin,
      confirmed: request.confirm === true, platformVoiceCode: request.platformVoiceCode === true, voiceRule, capability: accepted.capability, command: request.name, capabilityRisk: riskOfCapability(accepted.capability),
    });
    return { deviceId, accepted, gate, online };
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
    const risk = resolveCommand(capabilities, command);
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
    this.policy.check(device, 'command.receive');
    await this.db.withTenant(device, async (tx) => {
      const { rowCount } = await tx.query(`UPDATE commands SET status = 'delivered', delivered_at = now() WHERE id = $1 AND device_id = $2 AND status = 'pending'`, [commandId, device.principal.id]);
      if (rowCount) tx.afterCommit(() => this.events.emit('command.status.changed', { tenantId: device.tenantId, commandId, deviceId: device.principal.id, status: 'delivered' }));
    });
  }

  /** The device's result: `{ status: "ok" | "error", … }`. A result for an expired or finished command changes nothing. */
  async complete(device: TenantContext, commandId: string, result: Record<string, unknown>): Promise<boolean> {
    this.policy.check(device, 'command.receive');
    if (!/^[0-9a-f-]{36}$/i.test(commandId)) return false;
    const status: CommandStatus = result.status === 'ok' ? 'succeeded' : 'failed';
    const rowCount = await this.db.withTenant(device, async (tx) => {
      const updated = await tx.query(
        `UPDATE commands SET status = $3, result = $4, completed_at = now(), delivered_at = coalesce(delivered_at, now())
          WHERE id = $1 AND device_id = $2 AND status IN ('pending', 'delivered') AND expires_at > now()`,
        [commandId, device.principal.id, status, JSON.stringify(result)],
      );
      if (!updated.rowCount) return 0;
      if (status === 'failed') {
        await this.outbox.commandFinished(tx, device.tenantId, { commandId, status });
        await this.triggers?.commandFinished(tx, device.tenantId, { commandId, deviceId: device.principal.id, status });
      }
      tx.afterCommit(() => this.events.emit('command.status.changed', { tenantId: device.tenantId, commandId, deviceId: device.principal.id, status }));
      return updated.rowCount;
    });
    if (rowCount) this.wake(commandId);
    return Boolean(rowCount);
  }

  /** Commands a device should still receive: not finished, not expired, oldest first (never one awaiting approval). */
  async outstandingFor(device: TenantContext): Promise<CommandMessage[]> {
    this.policy.check(device, 'command.receive');
    const rows = await this.db.withTenant(device, async (tx) =>
      (await tx.query<Command>(`${SELECT} WHERE c.device_id = $1 AND c.status IN ('pending', 'delivered') AND c.expires_at > now() ORDER BY c.created_at`, [device.principal.id])).rows,
    );
    return rows.map(commandMessage);
  }

  /** Marks overdue commands expired, those awaiting approval too (every node runs this; the UPDATE is idempotent). */
  async expireOverdue(): Promise<number> {
    return this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<{ id: string; tenant_id: string; device_id: string }>(
        `UPDATE commands SET status = 'expired', completed_at = now() WHERE status IN ('awaiting_approval', 'pending', 'delivered') AND expires_at <= now()
         RETURNING id, tenant_id, device_id`,
      );
      for (const row of rows) {
        await this.outbox.commandFinished(tx, row.tenant_id, { commandId: row.id, status: 'expired' });
        await this.triggers?.commandFinished(tx, row.tenant_id, { commandId: row.id, deviceId: row.device_id, status: 'expired' });
      }
      tx.afterCommit(() => {
        for (const row of rows) {
          this.events.emit('command.status.changed', { tenantId: row.tenant_id, commandId: row.id, deviceId: row.device_id, status: 'expired' });
          this.wake(row.id);
        }
      });
      return rows.length;
    });
  }

  /** Wakes whoever waits for this command (an approval decision, a result). */
  wake(id: string): void {
    for (const wake of this.waiters.get(id) ?? []) wake();
  }
}
