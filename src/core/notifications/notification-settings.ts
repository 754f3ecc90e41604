import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import { CURSOR_AT, decodeCursor, pageOf, rowsToFetch } from '../keyset-cursor.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { isTimeZone } from '../push/push-tokens.js';
import type { NotificationCategory } from './notification-outbox.js';
import { checkRules, rulesOf, type NotificationRules } from './notification-rules.js';

export const CATEGORIES: NotificationCategory[] = ['alarm', 'device', 'command', 'approval', 'security'];
export type NotificationPreferences = { muted: NotificationCategory[]; quietHours: { start: string; end: string } | null; timezone: string | null };
export type StoredNotification = { id: string; type: string; category: string; critical: boolean; data: Record<string, string>; createdAt: Date; readAt: Date | null };

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const toMinutes = (time: string) => {
  const match = HH_MM.exec(time);
  if (!match) throw new GatewayError('VALIDATION_FAILED', `"${time}" is not a time of day (HH:MM).`, { field: 'quietHours' });
  return Number(match[1]) * 60 + Number(match[2]);
};
const toTime = (minutes: number) => `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/** Who hears what: the tenant's rules (admins), each person's preferences, and each person's history. */
export class NotificationSettings {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy) {}

  async rules(ctx: TenantContext): Promise<NotificationRules> {
    this.policy.check(ctx, 'notifications.rules.manage');
    return this.db.withTenant(ctx, (tx) => rulesOf(tx, ctx.tenantId));
  }

  async setRules(ctx: TenantContext, input: unknown): Promise<NotificationRules> {
    this.policy.check(ctx, 'notifications.rules.manage');
    const rules = checkRules(input);
    return this.db.withTenant(ctx, async (tx) => {
      await tx.query(
        `INSERT INTO push_rules (tenant_id, rules) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()`,
        [ctx.tenantId, JSON.stringify(rules)],
      );
      await recordSecurityEvent(tx, ctx, { type: 'NOTIFICATION_RULES_CHANGED', details: { rules } });
      return rules;
    });
  }

  async preferences(ctx: TenantContext): Promise<NotificationPreferences> {
    const userId = this.person(ctx);
    const row = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<{ muted: NotificationCategory[]; quiet_start: number | null; quiet_end: number | null; timezone: string | null }>(
        'SELECT muted, quiet_start, quiet_end, timezone FROM notification_preferences WHERE user_id = $1', [userId])).rows[0]);
    if (!row) return { muted: [], quietHours: null, timezone: null };
    const quiet = row.quiet_start !== null && row.quiet_end !== null ? { start: toTime(row.quiet_start), end: toTime(row.quiet_end) } : null;
    return { muted: row.muted, quietHours: quiet, timezone: row.timezone };
  }

  async setPreferences(ctx: TenantContext, input: NotificationPreferences): Promise<NotificationPreferences> {
    const userId = this.person(ctx);
    const unknown = input.muted.filter((category) => !CATEGORIES.includes(category));
    if (unknown.length > 0) throw new GatewayError('VALIDATION_FAILED', `Unknown categories: ${unknown.join(', ')}; known: ${CATEGORIES.join(', ')}.`, { field: 'muted' });
    if (input.timezone !== null && !isTimeZone(input.timezone)) throw new GatewayError('VALIDATION_FAILED', 'timezone must be an IANA time zone such as "Europe/Berlin".', { field: 'timezone' });
    const quiet = input.quietHours ? [toMinutes(input.quietHours.start), toMinutes(input.quietHours.end)] : [null, null];
    await this.db.withTenant(ctx, (tx) => tx.query(
      `INSERT INTO notification_preferences (tenant_id, user_id, muted, quiet_start, quiet_end, timezone) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET muted = EXCLUDED.muted, quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end,
         timezone = EXCLUDED.timezone, updated_at = now()`,
      [ctx.tenantId, userId, [...new Set(input.muted)], quiet[0], quiet[1], input.timezone],
    ));
    return this.preferences(ctx);
  }

  /** The caller's notifications in the active tenant, newest first, in pages. */
  async history(ctx: TenantContext, query: { limit?: number; cursor?: string } = {}): Promise<{ items: StoredNotification[]; next: string | null }> {
    const userId = this.person(ctx);
    const { limit, fetch } = rowsToFetch(query.limit, 200);
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const rows = await this.db.withTenant(ctx, async (tx) => (await tx.query<StoredNotification & { at: string }>(
      `SELECT id, type, category, critical, data, created_at AS "createdAt", read_at AS "readAt", ${CURSOR_AT('created_at')} AS at
         FROM notifications
        WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [userId, cursor?.at ?? null, cursor?.id ?? null, fetch],
    )).rows);
    return pageOf(rows, limit);
  }

  private person(ctx: TenantContext): string {
    this.policy.check(ctx, 'notifications.manage');
    if (ctx.principal.kind !== 'user') throw new GatewayError('POLICY_DENIED', 'Notification preferences belong to people.');
    return ctx.principal.id;
  }
}
