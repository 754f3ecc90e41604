import type { Database } from '../../db/database.js';
import type { Trigger } from './automation-schema.js';
import type { AutomationTriggers } from './automation-triggers.js';
import type { AutomationObserver } from './automation-runner.js';
import { nextFiring } from './trigger-rules.js';

type DueSchedule = { id: string; name: string; tenant_id: string; trigger: Trigger; next_fire_at: Date; time_zone: string };
type Overdue = { id: string; name: string; tenant_id: string; trigger: Trigger; device_id: string; last_seen_at: Date };

/**
 * The time-driven triggers, ticked on every node: schedules and "offline for N
 * minutes". Each tick claims what is due with `FOR UPDATE SKIP LOCKED` and, in
 * the same transaction, writes the run and moves the schedule to its next
 * firing after now, so a firing happens once fleet-wide, and firings missed
 * while no node ran collapse into one run, marked `late` when it comes more
 * than `lateAfterMs` after its time. The clock is injected (tests move it).
 */
export class AutomationScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<unknown> | undefined;

  constructor(
    private readonly db: Database,
    private readonly triggers: AutomationTriggers,
    private readonly clock: () => Date,
    private readonly options: { tickMs: number; lateAfterMs: number },
    private readonly observer: AutomationObserver = {},
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tickOnce(), this.options.tickMs);
    this.timer.unref();
    void this.tickOnce();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /** One tick, unless one is under way (then that one). */
  tickOnce(): Promise<unknown> {
    this.ticking ??= this.tick().catch(this.onError).finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Fires what is due at the clock's now; answers how many runs it wrote. */
  async tick(): Promise<number> {
    const fired = (await this.schedules()) + (await this.offline());
    // Told only once both transactions committed: a tick counted is one whose claims (or finding nothing due) are visible.
    this.observer.schedulerTicked?.();
    return fired;
  }

  private schedules(): Promise<number> {
    const now = this.clock();
    return this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<DueSchedule>(
        `SELECT a.id, a.name, a.tenant_id, a.trigger, a.next_fire_at, t.time_zone
           FROM automations a JOIN tenants t ON t.id = a.tenant_id
          WHERE a.enabled AND a.trigger_kind = 'schedule' AND a.next_fire_at <= $1 AND t.status = 'active'
          ORDER BY a.next_fire_at LIMIT 200
          FOR UPDATE OF a SKIP LOCKED`, [now]);
      let fired = 0;
      for (const row of rows) {
        if (row.trigger.kind !== 'schedule') continue;
        const lagMs = now.getTime() - row.next_fire_at.getTime();
        this.observer.schedulerLag?.(lagMs / 1000);
        const late = lagMs > this.options.lateAfterMs;
        const queued = await this.triggers.queue(tx, row.tenant_id, row, { kind: 'schedule', cron: row.trigger.cron, timeZone: row.time_zone, scheduledFor: row.next_fire_at.toISOString(), late, at: now.toISOString() }, { scheduledFor: row.next_fire_at, late });
        if (queued) fired++;
        await tx.query('UPDATE automations SET next_fire_at = $2 WHERE id = $1', [row.id, nextFiring(row.trigger.cron, row.time_zone, now)]);
      }
      return fired;
    });
  }

  private offline(): Promise<number> {
    const now = this.clock();
    return this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<Overdue>(
        `SELECT a.id, a.name, a.tenant_id, a.trigger, d.id AS device_id, d.last_seen_at
           FROM automations a JOIN devices d ON d.id = a.trigger_device_id AND d.tenant_id = a.tenant_id
           LEFT JOIN automation_trigger_state s ON s.automation_id = a.id AND s.device_id = d.id
          WHERE a.enabled AND a.trigger_kind = 'offline' AND NOT d.online AND d.status = 'active' AND d.last_seen_at IS NOT NULL
            AND d.last_seen_at < $1::timestamptz - make_interval(mins => (a.trigger->>'minutes')::int)
            AND s.fired_for IS DISTINCT FROM d.last_seen_at
          LIMIT 500
          FOR UPDATE OF a SKIP LOCKED`, [now]);
      for (const row of rows) {
        // last_seen_at as stored (microseconds), not as it came back through a JS Date (milliseconds): compared exactly above.
        await tx.query(
          `INSERT INTO automation_trigger_state (tenant_id, automation_id, device_id, fired_for)
           SELECT $1, $2, d.id, d.last_seen_at FROM devices d WHERE d.tenant_id = $1 AND d.id = $3
           ON CONFLICT (automation_id, device_id) DO UPDATE SET fired_for = EXCLUDED.fired_for`, [row.tenant_id, row.id, row.device_id]);
        const minutes = row.trigger.kind === 'offline' ? row.trigger.minutes : 0;
        await this.triggers.queue(tx, row.tenant_id, row, { kind: 'offline', deviceId: row.device_id, minutes, lastSeenAt: row.last_seen_at.toISOString(), at: now.toISOString() });
      }
      return rows.length;
    });
  }
}
