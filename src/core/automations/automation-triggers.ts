import type { TenantContext } from '../../auth/context.js';
import type { Clock } from '../../clock.js';
import type { Tx } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import type { EventBus } from '../event-bus.js';
import type { NotificationOutbox } from '../notifications/notification-outbox.js';
import { topicMatches } from '../topics/topic-match.js';
import type { Trigger } from './automation-schema.js';
import { crossing, fieldOf } from './trigger-rules.js';

export type AutomationLimits = {
  /** Runs a tenant may start per minute; beyond it a run is recorded `limited` and not executed. */
  runsPerMinute: number;
  /**
   * How long a chain of runs may grow, each triggered by the previous one's effect (an automation retriggering
   * itself, or A -> B -> A), before the next is stopped.
   */
  loopBound: number;
  /** How long after a run touched a device an event or state of that device counts as the run's effect. */
  loopWindowSeconds: number;
};
export const DEFAULT_AUTOMATION_LIMITS: AutomationLimits = { runsPerMinute: 60, loopBound: 5, loopWindowSeconds: 60 };

/** What a run records of its trigger (its history shows it as such). */
export type TriggerRecord = { kind: Trigger['kind']; deviceId?: string; at: string } & Record<string, unknown>;
type Candidate = { id: string; name: string; trigger: Trigger };
export type QueuedRun = { runId: string; status: 'queued' | 'limited' | 'loop_stopped' };

/**
 * The run outbox: each method runs inside its cause's transaction (the device
 * event's insert, the state write, the command's result, the scheduler's and
 * the offline sweep's claim), finds the automations the cause triggers and
 * writes their runs there, so a cause and its runs commit together or not at
 * all. Every statement names the tenant: some causes run as the platform.
 */
export class AutomationTriggers {
  constructor(
    private readonly events: EventBus,
    private readonly outbox: NotificationOutbox,
    /** The automation principal's context, for auditing a loop stop in the cause's transaction. */
    private readonly principalOf: (tenantId: string) => TenantContext,
    private readonly limits: AutomationLimits = DEFAULT_AUTOMATION_LIMITS,
    /** The automations' clock: a trigger's `at`, at which the run's time windows are read. */
    private readonly clock: Clock = () => new Date(),
    /** Wakes this node's runner once runs were committed. */
    private readonly wake: () => void = () => undefined,
    /** Told of runs recorded without running (limited, loop_stopped), once committed. */
    private readonly notRun: (status: 'limited' | 'loop_stopped') => void = () => undefined,
  ) {}

  async deviceEvent(tx: Tx, tenantId: string, event: { deviceId: string; eventId: string; kind: string }): Promise<void> {
    for (const automation of await candidates(tx, tenantId, 'event', [event.deviceId])) {
      if (automation.trigger.kind !== 'event' || !topicMatches(automation.trigger.event, event.kind)) continue;
      await this.queue(tx, tenantId, automation, { kind: 'event', deviceId: event.deviceId, device: automation.trigger.device, event: event.kind, eventId: event.eventId, at: this.clock().toISOString() });
    }
  }

  /** New reported states: thresholds crossed (with hysteresis, the armed flag kept per automation and device). */
  async statesWritten(tx: Tx, tenantId: string, states: readonly { deviceId: string; state: unknown }[]): Promise<void> {
    const found = await candidates(tx, tenantId, 'threshold', states.map((s) => s.deviceId));
    for (const automation of found) {
      const trigger = automation.trigger;
      if (trigger.kind !== 'threshold') continue;
      for (const { deviceId, state } of states.filter((s) => s.deviceId === automation.deviceId)) {
        const value = fieldOf(state, trigger.field);
        const stored = (await tx.query<{ armed: boolean }>(
          'SELECT armed FROM automation_trigger_state WHERE automation_id = $1 AND device_id = $2 FOR UPDATE', [automation.id, deviceId])).rows[0];
        const next = crossing(trigger, value, stored?.armed ?? true);
        if (next.armed !== (stored?.armed ?? true)) {
          await tx.query(
            `INSERT INTO automation_trigger_state (tenant_id, automation_id, device_id, armed) VALUES ($1, $2, $3, $4)
             ON CONFLICT (automation_id, device_id) DO UPDATE SET armed = EXCLUDED.armed`, [tenantId, automation.id, deviceId, next.armed]);
        }
        if (next.fire) {
          await this.queue(tx, tenantId, automation, {
            kind: 'threshold', deviceId, device: trigger.device, field: trigger.field, value: value as number,
            ...(trigger.above !== undefined ? { above: trigger.above } : { below: trigger.below }), at: this.clock().toISOString(),
          });
        }
      }
    }
  }

  /** A command failed or expired. */
  async commandFinished(tx: Tx, tenantId: string, finished: { commandId: string; deviceId: string; status: 'failed' | 'expired' }): Promise<void> {
    const { rows } = await tx.query<Candidate & { deviceId: string | null }>(
      `SELECT id, name, trigger, trigger_device_id AS "deviceId" FROM automations
        WHERE tenant_id = $1 AND enabled AND trigger_kind = 'command_failed' AND (trigger_device_id IS NULL OR trigger_device_id = $2)`,
      [tenantId, finished.deviceId],
    );
    for (const automation of rows) {
      await this.queue(tx, tenantId, automation, { kind: 'command_failed', deviceId: finished.deviceId, commandId: finished.commandId, status: finished.status, at: this.clock().toISOString() });
    }
  }

  /**
   * Writes one run. Over the tenant's runs per minute it is recorded `limited`.
   * Triggered by a run's effect (an event, state or failed command of a device
   * the tenant's latest run to touch it touched, within the loop window; of
   * this automation or another), it records that run as its cause and
   * continues its chain one deeper, so a loop through several automations is
   * one chain as a loop through one is. Past the bound it is recorded
   * `loop_stopped`, its automation is disabled, and a security event is raised
   * naming the automations of the chain (audit log; the tenant's admins are told).
   */
  async queue(tx: Tx, tenantId: string, automation: Pick<Candidate, 'id' | 'name'>, trigger: TriggerRecord, schedule?: { scheduledFor: Date; late: boolean }): Promise<QueuedRun | undefined> {
    // One tenant's triggers queue one after another here, so the per-minute count is exact across nodes.
    await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`automation-runs/${tenantId}`]);
    const { rows: [counted] } = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM automation_runs WHERE tenant_id = $1 AND triggered_at > now() - interval '1 minute' AND status NOT IN ('limited', 'loop_stopped')`, [tenantId]);
    const cause = trigger.deviceId ? (await tx.query<{ id: string; chain_id: string; depth: number }>(
      `SELECT id, chain_id, depth FROM automation_runs
        WHERE tenant_id = $1 AND started_at > now() - make_interval(secs => $3) AND $2 = ANY(touched_devices)
        ORDER BY started_at DESC LIMIT 1`,
      [tenantId, trigger.deviceId, this.limits.loopWindowSeconds],
    )).rows[0] : undefined;
    const depth = cause ? cause.depth + 1 : 0;
    const status = depth > this.limits.loopBound ? 'loop_stopped' : counted!.n >= this.limits.runsPerMinute ? 'limited' : 'queued';
    const { rows } = await tx.query<{ id: string }>(
      `WITH n AS (SELECT gatehouse_uuidv7() AS id)
       INSERT INTO automation_runs (id, tenant_id, automation_id, status, trigger, scheduled_for, late, chain_id, depth, caused_by, finished_at)
       SELECT n.id, $1, $2, $3, $4, $5, $6, coalesce($7::uuid, n.id), $8, $9, CASE WHEN $3 = 'queued' THEN NULL ELSE now() END FROM n
       ON CONFLICT (automation_id, scheduled_for) DO NOTHING
       RETURNING id`,
      [tenantId, automation.id, status, JSON.stringify(trigger), schedule?.scheduledFor ?? null, schedule?.late ?? false, cause?.chain_id ?? null, depth, cause?.id ?? null],
    );
    const runId = rows[0]?.id;
    if (!runId) return undefined;
    if (status === 'loop_stopped') {
      await tx.query(`UPDATE automations SET enabled = false, disabled_reason = 'loop', updated_at = now() WHERE tenant_id = $1 AND id = $2`, [tenantId, automation.id]);
      // The automations the chain went through, in the order they first ran in it.
      const { rows: chained } = await tx.query<{ name: string }>(
        `SELECT a.name FROM automation_runs r JOIN automations a ON a.id = r.automation_id
          WHERE r.tenant_id = $1 AND r.chain_id = $2 GROUP BY a.id, a.name ORDER BY min(r.depth)`, [tenantId, cause!.chain_id]);
      const details = {
        automationId: automation.id, automation: automation.name, runId, depth, bound: this.limits.loopBound, deviceId: trigger.deviceId ?? null,
        chainId: cause!.chain_id, causedBy: cause!.id, chain: chained.map((row) => row.name),
      };
      await recordSecurityEvent(tx, this.principalOf(tenantId), { type: 'AUTOMATION_LOOP_STOPPED', deviceId: trigger.deviceId, details });
      tx.afterCommit(() => this.events.emit('security.event', { tenantId, type: 'AUTOMATION_LOOP_STOPPED', details }));
    }
    if (status === 'queued') tx.afterCommit(this.wake);
    else tx.afterCommit(() => this.notRun(status));
    return { runId, status };
  }
}

async function candidates(tx: Tx, tenantId: string, kind: Trigger['kind'], deviceIds: string[]): Promise<(Candidate & { deviceId: string })[]> {
  const { rows } = await tx.query<Candidate & { deviceId: string }>(
    `SELECT id, name, trigger, trigger_device_id AS "deviceId" FROM automations
      WHERE tenant_id = $1 AND enabled AND trigger_kind = $2 AND trigger_device_id = ANY($3::uuid[])`,
    [tenantId, kind, deviceIds],
  );
  return rows;
}
