import { highestRole, roleRank, type Channel, type TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { commandMessage, SELECT, type Command } from './command-service.js';

export type Decision = 'approve' | 'deny';
type Requester = { kind: string; id: string; channel: Channel };
type Pending = {
  status: string; expired: boolean; issued_by: Requester; device_id: string; device: string;
  owner_user_id: string | null; approval_second_person: boolean;
};

/** Who may decide, given the command: pure, so each rule has its unit test. Throws POLICY_DENIED. */
export function checkDecider(ctx: TenantContext, decision: Decision, command: Pick<Pending, 'issued_by' | 'owner_user_id' | 'approval_second_person'>): void {
  const deny = (why: string): never => {
    throw new GatewayError('POLICY_DENIED', `You may not ${decision} this command: ${why}.`, { decision });
  };
  if (ctx.channel !== 'web' && ctx.channel !== 'mobile') deny('decisions are made from web or mobile only');
  if (ctx.principal.kind !== 'user') deny('only a person decides');
  const role = highestRole(ctx);
  const isAdmin = role !== undefined && roleRank(role) >= roleRank('admin');
  if (!isAdmin && command.owner_user_id !== ctx.principal.id) deny('it needs an owner or admin of the tenant, or the device\'s owner');
  if (decision === 'deny') return;
  // Out of band: the channel that asked cannot also say yes (seed 003, "out-of-band confirmation for dangerous actions").
  if (command.issued_by.channel === ctx.channel) deny(`it was asked for from ${ctx.channel}; approve it from another channel`);
  const ownRequest = command.issued_by.kind === ctx.principal.kind && command.issued_by.id === ctx.principal.id;
  if (ownRequest && command.approval_second_person) deny('this tenant requires a second person to approve what you asked for');
}

/**
 * The approval state machine of critical commands:
 * awaiting_approval → pending (approved: published to the device) | denied | expired (its TTL).
 * Every decision is a security event; the new status is announced after commit.
 */
export class Approvals {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly events: EventBus, private readonly wake: (commandId: string) => void) {}

  approve(ctx: TenantContext, commandId: string): Promise<Command> {
    return this.decide(ctx, commandId, 'approve');
  }

  deny(ctx: TenantContext, commandId: string): Promise<Command> {
    return this.decide(ctx, commandId, 'deny');
  }

  /** Whether the tenant requires a second person to approve a requester's own command. */
  async secondPersonRequired(ctx: TenantContext): Promise<boolean> {
    this.policy.check(ctx, 'device.read');
    return this.db.withTenant(ctx, async (tx) => (await tx.query<{ on: boolean }>('SELECT approval_second_person AS on FROM tenants WHERE id = $1', [ctx.tenantId])).rows[0]?.on ?? false);
  }

  /** Owners only: the tenants row is the platform's, so this one column is written as the platform, for the caller's tenant alone. */
  async requireSecondPerson(ctx: TenantContext, on: boolean): Promise<void> {
    this.policy.check(ctx, 'tenant.members.manage');
    if (highestRole(ctx) !== 'owner') throw new GatewayError('POLICY_DENIED', 'Only an owner changes the tenant\'s approval rule.');
    await this.db.withPlatform((tx) => tx.query('UPDATE tenants SET approval_second_person = $2 WHERE id = $1', [ctx.tenantId, on]));
    await this.db.withTenant(ctx, (tx) => recordSecurityEvent(tx, ctx, { type: 'APPROVAL_POLICY_CHANGED', details: { secondPerson: on } }));
  }

  private async decide(ctx: TenantContext, commandId: string, decision: Decision): Promise<Command> {
    this.policy.check(ctx, 'command.approve');
    if (!/^[0-9a-f-]{36}$/i.test(commandId)) throw new GatewayError('NOT_FOUND', 'No such command, or no access to it.');
    const command = await this.db.withTenant(ctx, async (tx) => {
      // Row-level security: another tenant's command is simply not found.
      const row = (await tx.query<Pending>(
        `SELECT c.status, c.expires_at <= now() AS expired, c.issued_by, c.device_id, d.name AS device, d.owner_user_id, t.approval_second_person
           FROM commands c JOIN devices d ON d.id = c.device_id JOIN tenants t ON t.id = c.tenant_id
          WHERE c.id = $1 FOR UPDATE OF c`, [commandId],
      )).rows[0];
      if (!row) throw new GatewayError('NOT_FOUND', 'No such command, or no access to it.');
      checkDecider(ctx, decision, row);
      if (row.status !== 'awaiting_approval' || row.expired) {
        throw new GatewayError('CONFLICT', `The command is not awaiting approval (it is ${row.expired && row.status === 'awaiting_approval' ? 'expired' : row.status}).`, { status: row.status });
      }
      const status = decision === 'approve' ? 'pending' : 'denied';
      await tx.query(
        `UPDATE commands SET status = $2, decided_by = $3, decided_at = now(), completed_at = CASE WHEN $2 = 'denied' THEN now() END WHERE id = $1`,
        [commandId, status, JSON.stringify({ ...ctx.principal, channel: ctx.channel })],
      );
      await recordSecurityEvent(tx, ctx, {
        type: decision === 'approve' ? 'COMMAND_APPROVED' : 'COMMAND_DENIED', deviceId: row.device_id,
        details: { commandId, requestedBy: row.issued_by },
      });
      const updated = (await tx.query<Command>(`${SELECT} WHERE c.id = $1`, [commandId])).rows[0]!;
      tx.afterCommit(() => {
        this.events.emit('command.status.changed', { tenantId: ctx.tenantId, commandId, deviceId: row.device_id, status });
        if (status === 'pending') this.events.emit('command.issued', { tenantId: ctx.tenantId, deviceName: row.device, command: commandMessage(updated) });
      });
      return updated;
    });
    this.wake(commandId);
    return command;
  }
}
