import type { TenantContext } from '../../auth/context.js';
import type { Database, Tx } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import type { CommandService } from '../commands/command-service.js';
import { GatewayError } from '../errors.js';
import { CURSOR_AT, decodeCursor, pageOf, rowsToFetch } from '../keyset-cursor.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { sceneById } from '../scenes/scene-service.js';
import { isValidTopicFilter } from '../topic-filter.js';
import { AutomationInput, checkDocument, type Action, type Condition, type Trigger } from './automation-schema.js';
import { isTimeZone, nextFiring } from './trigger-rules.js';
import { isUniqueViolation } from '../../db/pg-errors.js';

export type Automation = {
  id: string; name: string; enabled: boolean; disabledReason: string | null; trigger: Trigger; conditions: Condition[]; actions: Action[];
  nextFireAt: Date | null; createdAt: Date; updatedAt: Date;
};
export type AutomationRun = {
  id: string; status: string; trigger: Record<string, unknown>; triggeredAt: Date; scheduledFor: Date | null; late: boolean;
  /** Runs before this one in its chain, and the run whose effect triggered it (of this automation or another). */
  depth: number; causedBy: string | null;
  conditions: unknown; actions: unknown; startedAt: Date | null; finishedAt: Date | null;
};
export type AutomationRunPage = { items: AutomationRun[]; next: string | null };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = `id, name, enabled, disabled_reason AS "disabledReason", trigger, conditions, actions, next_fire_at AS "nextFireAt",
                 created_at AS "createdAt", updated_at AS "updatedAt"`;
const RUN_COLUMNS = `id, status, trigger, triggered_at AS "triggeredAt", scheduled_for AS "scheduledFor", late, depth, caused_by AS "causedBy", conditions, actions,
                     started_at AS "startedAt", finished_at AS "finishedAt"`;
const notFound = () => new GatewayError('AUTOMATION_NOT_FOUND', 'No such automation, or no access to it.');
const nameTaken = (name: string) => new GatewayError('CONFLICT', `An automation named "${name}" exists already.`, { name });
export const MAX_RUN_PAGE = 100;

/**
 * Automations as people manage them (`/v1/automations`): validated documents
 * whose devices, scenes and members are resolved in the caller's tenant when
 * saved (another tenant's answer "not found"), and their run history. Only
 * people change them (seed 003: no self-modifying workflows).
 */
export class AutomationService {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly commands: CommandService, private readonly clock: () => Date) {}

  async list(ctx: TenantContext): Promise<Automation[]> {
    this.policy.check(ctx, 'automations.manage');
    return this.db.withTenant(ctx, async (tx) => (await tx.query<Automation>(`SELECT ${COLUMNS} FROM automations ORDER BY name`)).rows);
  }

  async get(ctx: TenantContext, id: string): Promise<Automation> {
    this.policy.check(ctx, 'automations.manage');
    const row = UUID.test(id) ? await this.db.withTenant(ctx, async (tx) => (await tx.query<Automation>(`SELECT ${COLUMNS} FROM automations WHERE id = $1`, [id])).rows[0]) : undefined;
    if (!row) throw notFound();
    return row;
  }

  async create(ctx: TenantContext, input: unknown): Promise<Automation> {
    this.policy.check(ctx, 'automations.manage');
    const doc = checkDocument<AutomationInput>(AutomationInput, input, 'Automation');
    const triggerDevice = await this.checkReferences(ctx, doc);
    return this.db.withTenant(ctx, async (tx) => {
      const nextFireAt = await this.firstFiring(tx, ctx, doc.trigger);
      const { rows } = await tx.query<Automation>(
        `INSERT INTO automations (tenant_id, name, enabled, trigger, conditions, actions, trigger_kind, trigger_device_id, next_fire_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING ${COLUMNS}`,
        [ctx.tenantId, doc.name, doc.enabled ?? true, JSON.stringify(doc.trigger), JSON.stringify(doc.conditions ?? []), JSON.stringify(doc.actions),
          doc.trigger.kind, triggerDevice ?? null, nextFireAt, JSON.stringify({ ...ctx.principal, channel: ctx.channel })],
      );
      if (!rows[0]) throw nameTaken(doc.name);
      await recordSecurityEvent(tx, ctx, { type: 'AUTOMATION_CHANGED', details: { automationId: rows[0].id, change: 'created', name: doc.name } });
      return rows[0];
    });
  }

  /** Replaces the automation; its trigger starts afresh (thresholds armed, offline absences forgotten), and enabling it again clears a loop stop. */
  async update(ctx: TenantContext, id: string, input: unknown): Promise<Automation> {
    this.policy.check(ctx, 'automations.manage');
    const doc = checkDocument<AutomationInput>(AutomationInput, input, 'Automation');
    const triggerDevice = await this.checkReferences(ctx, doc);
    return this.db.withTenant(ctx, async (tx) => {
      if (!UUID.test(id)) throw notFound();
      const nextFireAt = await this.firstFiring(tx, ctx, doc.trigger);
      const { rows } = await tx.query<Automation>(
        `UPDATE automations SET name = $2, enabled = $3, trigger = $4, conditions = $5, actions = $6, trigger_kind = $7, trigger_device_id = $8,
                next_fire_at = $9, disabled_reason = NULL, updated_at = now()
          WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, doc.name, doc.enabled ?? true, JSON.stringify(doc.trigger), JSON.stringify(doc.conditions ?? []), JSON.stringify(doc.actions),
          doc.trigger.kind, triggerDevice ?? null, nextFireAt],
      ).catch((error: unknown) => {
        throw isUniqueViolation(error) ? nameTaken(doc.name) : error;
      });
      if (!rows[0]) throw notFound();
      await tx.query('DELETE FROM automation_trigger_state WHERE automation_id = $1', [id]);
      await recordSecurityEvent(tx, ctx, { type: 'AUTOMATION_CHANGED', details: { automationId: id, change: 'updated', name: doc.name } });
      return rows[0];
    });
  }

  async remove(ctx: TenantContext, id: string): Promise<void> {
    this.policy.check(ctx, 'automations.manage');
    await this.db.withTenant(ctx, async (tx) => {
      const { rowCount } = UUID.test(id) ? await tx.query('DELETE FROM automations WHERE id = $1', [id]) : { rowCount: 0 };
      if (!rowCount) throw notFound();
      await recordSecurityEvent(tx, ctx, { type: 'AUTOMATION_CHANGED', details: { automationId: id, change: 'deleted' } });
    });
  }

  /** The automation's runs, newest first, in pages: trigger, conditions as evaluated, each action's outcome and timings. */
  async runs(ctx: TenantContext, id: string, query: { limit?: number; cursor?: string } = {}): Promise<AutomationRunPage> {
    await this.get(ctx, id);
    const { limit, fetch } = rowsToFetch(query.limit, MAX_RUN_PAGE);
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const rows = await this.db.withTenant(ctx, async (tx) => (await tx.query<AutomationRun & { at: string }>(
      `SELECT ${RUN_COLUMNS}, ${CURSOR_AT('triggered_at')} AS at FROM automation_runs
        WHERE automation_id = $1 AND ($2::timestamptz IS NULL OR (triggered_at, id) < ($2, $3::uuid))
        ORDER BY triggered_at DESC, id DESC LIMIT $4`,
      [id, cursor?.at ?? null, cursor?.id ?? null, fetch],
    )).rows);
    return pageOf(rows, limit);
  }

  async timeZone(ctx: TenantContext): Promise<string> {
    this.policy.check(ctx, 'automations.manage');
    return this.db.withTenant(ctx, async (tx) => tenantZone(tx, ctx.tenantId));
  }

  /** The tenant's time zone (IANA); its schedules' next firings are computed again in it. */
  async setTimeZone(ctx: TenantContext, timeZone: string): Promise<string> {
    this.policy.check(ctx, 'automations.manage');
    if (!isTimeZone(timeZone)) throw new GatewayError('VALIDATION_FAILED', `"${timeZone}" is not an IANA time zone.`, { timeZone });
    // The tenants row is the platform's: this one column is written as the platform, for the caller's tenant alone.
    await this.db.withPlatform((tx) => tx.query('UPDATE tenants SET time_zone = $2 WHERE id = $1', [ctx.tenantId, timeZone]));
    await this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ id: string; trigger: Trigger }>(`SELECT id, trigger FROM automations WHERE trigger_kind = 'schedule'`);
      for (const row of rows) {
        if (row.trigger.kind === 'schedule') await tx.query('UPDATE automations SET next_fire_at = $2 WHERE id = $1', [row.id, nextFiring(row.trigger.cron, timeZone, this.clock())]);
      }
      await recordSecurityEvent(tx, ctx, { type: 'TENANT_TIME_ZONE_CHANGED', details: { timeZone } });
    });
    return timeZone;
  }

  private async firstFiring(tx: Tx, ctx: TenantContext, trigger: Trigger): Promise<Date | null> {
    if (trigger.kind !== 'schedule') return null;
    return nextFiring(trigger.cron, await tenantZone(tx, ctx.tenantId), this.clock());
  }

  /**
   * Everything the automation names, resolved in the caller's tenant: devices
   * (DEVICE_NOT_FOUND for another tenant's), the commands they accept, scenes,
   * members to notify. Answers the trigger's device id.
   */
  private async checkReferences(ctx: TenantContext, doc: AutomationInput): Promise<string | undefined> {
    const trigger = doc.trigger;
    if (trigger.kind === 'threshold' && (trigger.above === undefined) === (trigger.below === undefined)) {
      throw new GatewayError('VALIDATION_FAILED', 'Automation: a threshold trigger names exactly one of above and below.');
    }
    if (trigger.kind === 'event' && !isValidTopicFilter(trigger.event)) throw new GatewayError('VALIDATION_FAILED', `Automation: "${trigger.event}" is not a topic filter.`);
    if (trigger.kind === 'schedule') nextFiring(trigger.cron, 'UTC', this.clock());
    const devices = new Set<string>();
    if ('device' in trigger && trigger.device) devices.add(trigger.device);
    for (const condition of doc.conditions ?? []) if (condition.kind === 'state') devices.add(condition.device);
    for (const action of doc.actions) if (action.kind === 'command') devices.add(action.device);
    const { resolved } = devices.size > 0 ? await this.policy.requireAccess(ctx, 'device.read', [...devices]) : { resolved: new Map<string, string>() };
    for (const action of doc.actions) if (action.kind === 'command') await this.commands.riskOf(ctx, action.device, action.command);
    await this.db.withTenant(ctx, async (tx) => {
      for (const action of doc.actions) {
        if (action.kind === 'scene' && !(await sceneById(tx, action.scene))) throw new GatewayError('SCENE_NOT_FOUND', 'No such scene, or no access to it.', { scene: action.scene });
        if (action.kind === 'notify') {
          const { rows } = await tx.query<{ user_id: string }>('SELECT user_id FROM memberships WHERE user_id = ANY($1::uuid[])', [action.to]);
          const missing = action.to.filter((id) => !rows.some((row) => row.user_id === id.toLowerCase()));
          if (missing.length > 0) throw new GatewayError('USER_NOT_FOUND', `Not found, or no access: ${missing.join(', ')}.`, { ids: missing });
        }
      }
    });
    return 'device' in trigger && trigger.device ? resolved.get(trigger.device) : undefined;
  }
}

async function tenantZone(tx: Tx, tenantId: string): Promise<string> {
  return (await tx.query<{ time_zone: string }>('SELECT time_zone FROM tenants WHERE id = $1', [tenantId])).rows[0]?.time_zone ?? 'UTC';
}
