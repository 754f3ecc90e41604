import type { TenantContext } from '../../auth/context.js';
import type { Database, Tx } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import type { CommandService } from '../commands/command-service.js';
import { isGatewayError } from '../errors.js';
import type { NotificationOutbox } from '../notifications/notification-outbox.js';
import type { SceneService } from '../scenes/scene-service.js';
import type { Action, Condition } from './automation-schema.js';
import { evaluate, type EvaluatedCondition } from './trigger-rules.js';

export type RunOutcome = 'succeeded' | 'failed' | 'skipped';
/** Told of each finished run, of the time from its trigger to its first action, and of the scheduler's firings and ticks (metrics). */
export type AutomationObserver = {
  runFinished?(outcome: RunOutcome | 'limited' | 'loop_stopped'): void;
  triggerToAction?(seconds: number): void;
  schedulerLag?(seconds: number): void;
  schedulerTicked?(): void;
};

type Claimed = { id: string; tenant_id: string; automation_id: string; trigger: { deviceId?: string } & Record<string, unknown>; triggered_at: Date; scheduled_for: Date | null; actions: ActionOutcome[] | null };
type Automation = { name: string; enabled: boolean; conditions: Condition[]; actions: Action[]; time_zone: string };
export type ActionOutcome = Action & { index: number; ok: boolean; startedAt: string; finishedAt: string; result: Record<string, unknown> };

/**
 * Executes queued runs. Runs are claimed in a short transaction with
 * `FOR UPDATE SKIP LOCKED` and leased, so nodes never run one twice; a node
 * that dies mid-run leaves it to another once the lease runs out, which
 * resumes after the actions already recorded (commands carry an idempotency
 * key per run and action, so none is sent twice). Each run acts as its
 * tenant's automation principal, through the command service and the outbox,
 * and is audited as it.
 */
export class AutomationRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly db: Database,
    private readonly commands: CommandService,
    private readonly scenes: SceneService,
    private readonly outbox: NotificationOutbox,
    private readonly contextOf: (tenantId: string) => Promise<TenantContext | undefined>,
    private readonly options: { pollMs: number; leaseMs: number; batch: number },
    private readonly observer: AutomationObserver = {},
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs what is due now; a wake while running runs again after. */
  wake = (): void => {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().then(() => undefined, this.onError).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  };

  /** Claims and executes until nothing is due (tests await it). */
  async drain(): Promise<number> {
    let done = 0;
    for (;;) {
      const claimed = await this.claim();
      if (claimed.length === 0) return done;
      await Promise.all(claimed.map((run) => this.execute(run).catch(this.onError)));
      done += claimed.length;
    }
  }

  private claim(): Promise<Claimed[]> {
    return this.db.withPlatform(async (tx) => (await tx.query<Claimed>(
      `WITH due AS (
         SELECT id FROM automation_runs
          WHERE status = 'queued' OR (status = 'running' AND lease_until < now())
          ORDER BY triggered_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       UPDATE automation_runs r SET status = 'running', attempts = r.attempts + 1, lease_until = now() + make_interval(secs => $2),
              started_at = coalesce(r.started_at, now())
         FROM due WHERE r.id = due.id
       RETURNING r.id, r.tenant_id, r.automation_id, r.trigger, r.triggered_at, r.scheduled_for, r.actions`,
      [this.options.batch, this.options.leaseMs / 1000],
    )).rows);
  }

  private async execute(run: Claimed): Promise<void> {
    const ctx = await this.contextOf(run.tenant_id);
    if (!ctx) {
      await this.db.withPlatform((tx) => tx.query(`UPDATE automation_runs SET status = 'skipped', finished_at = now(), conditions = '[]', actions = '[]' WHERE id = $1`, [run.id]));
      this.observer.runFinished?.('skipped');
      return;
    }
    const automation = await this.db.withTenant(ctx, async (tx) => (await tx.query<Automation>(
      'SELECT a.name, a.enabled, a.conditions, a.actions, t.time_zone FROM automations a JOIN tenants t ON t.id = a.tenant_id WHERE a.id = $1', [run.automation_id])).rows[0]);
    if (!automation) return; // deleted meanwhile: its runs went with it
    // Time windows are read at the trigger's time by the automations' clock (a schedule's: the time it was set for).
    const at = run.scheduled_for ?? (typeof run.trigger.at === 'string' ? new Date(run.trigger.at) : run.triggered_at);
    const conditions = await this.conditions(ctx, automation, at);
    if (!automation.enabled || conditions.some((condition) => !condition.passed)) {
      await this.finish(ctx, run, automation, 'skipped', conditions, run.actions ?? []);
      return;
    }
    const outcomes: ActionOutcome[] = [...(run.actions ?? [])];
    for (const [index, action] of automation.actions.entries()) {
      if (outcomes.some((outcome) => outcome.index === index)) continue; // done before a crash
      if (outcomes.length === 0) this.observer.triggerToAction?.(Math.max(0, (Date.now() - run.triggered_at.getTime()) / 1000));
      const record = (tx: Tx, outcome: ActionOutcome) => tx.query('UPDATE automation_runs SET actions = $2, conditions = $3 WHERE id = $1',
        [run.id, JSON.stringify([...outcomes, outcome]), JSON.stringify(conditions)]);
      const outcome = await this.act(ctx, run, automation, action, index, record);
      outcomes.push(outcome);
    }
    await this.finish(ctx, run, automation, outcomes.every((outcome) => outcome.ok) ? 'succeeded' : 'failed', conditions, outcomes);
  }

  private async conditions(ctx: TenantContext, automation: Automation, at: Date): Promise<EvaluatedCondition[]> {
    const devices = [...new Set(automation.conditions.flatMap((condition) => (condition.kind === 'state' ? [condition.device] : [])))];
    const states = new Map<string, unknown>();
    if (devices.length > 0) {
      const rows = await this.db.withTenant(ctx, async (tx) => (await tx.query<{ name: string; state: unknown }>(
        'SELECT d.name, s.state FROM devices d LEFT JOIN device_state s ON s.device_id = d.id WHERE d.name = ANY($1::text[])', [devices])).rows);
      for (const row of rows) states.set(row.name, row.state);
    }
    return evaluate(automation.conditions, (device) => states.get(device), at, automation.time_zone);
  }

  /**
   * One action, its outcome recorded on the run: a notification in the same
   * transaction as its outbox rows (a crash cannot send it twice); a command
   * or scene after it was made (its idempotency key makes a retry find it).
   */
  private async act(ctx: TenantContext, run: Claimed, automation: Automation, action: Action, index: number, record: (tx: Tx, outcome: ActionOutcome) => Promise<unknown>): Promise<ActionOutcome> {
    const startedAt = new Date();
    const done = (ok: boolean, result: Record<string, unknown>): ActionOutcome => ({ ...action, index, ok, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), result });
    const recorded = async (outcome: ActionOutcome) => {
      await this.db.withTenant(ctx, (tx) => record(tx, outcome));
      return outcome;
    };
    try {
      if (action.kind === 'command') {
        await this.touch(ctx, run.id, [action.device]);
        const command = await this.commands.issue(ctx, action.device, { name: action.command, params: action.params, idempotencyKey: `run:${run.id}:${index}` });
        return await recorded(done(true, { commandId: command.id, status: command.status }));
      }
      if (action.kind === 'scene') {
        const scene = await this.scenes.get(ctx, action.scene);
        await this.touch(ctx, run.id, scene.commands.map((step) => step.device));
        const activation = await this.scenes.activate(ctx, action.scene, {}, `run:${run.id}:${index}`);
        return await recorded(done(activation.results.every((result) => result.outcome === 'issued'), activation));
      }
      return await this.db.withTenant(ctx, async (tx) => {
        const told = await this.outbox.automationNotice(tx, ctx.tenantId, {
          userIds: action.to, automationId: run.automation_id, automation: automation.name, message: action.message, critical: action.critical === true, deviceId: run.trigger.deviceId,
        });
        const outcome = done(told > 0, { recipients: told });
        await record(tx, outcome);
        return outcome;
      });
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      return recorded(done(false, { error: { code: error.code, message: error.message } }));
    }
  }

  /** Recorded before the command goes out, so the device's answer already counts as this run's effect (loop protection). */
  private touch(ctx: TenantContext, runId: string, devices: string[]): Promise<unknown> {
    return this.db.withTenant(ctx, (tx) => tx.query(
      `UPDATE automation_runs SET touched_devices = ARRAY(SELECT DISTINCT unnest(touched_devices || ARRAY(SELECT id FROM devices WHERE name = ANY($2::text[])))) WHERE id = $1`,
      [runId, devices]));
  }

  private async finish(ctx: TenantContext, run: Claimed, automation: Automation, outcome: RunOutcome, conditions: EvaluatedCondition[], actions: ActionOutcome[]): Promise<void> {
    await this.db.withTenant(ctx, async (tx) => {
      await tx.query(`UPDATE automation_runs SET status = $2, conditions = $3, actions = $4, finished_at = now(), lease_until = NULL WHERE id = $1`,
        [run.id, outcome, JSON.stringify(conditions), JSON.stringify(actions)]);
      await recordSecurityEvent(tx, ctx, {
        type: 'AUTOMATION_RUN', deviceId: run.trigger.deviceId,
        details: { automationId: run.automation_id, automation: automation.name, runId: run.id, outcome, trigger: run.trigger.kind, actions: actions.map((a) => ({ kind: a.kind, ok: a.ok })) },
      });
    });
    this.observer.runFinished?.(outcome);
  }
}
