import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import { requireConfirmation } from '../policy/confirmation.js';

export type Retention = { telemetryRetentionDays: number; maxDays: number };

/** How long a tenant keeps its telemetry and device events: its admins choose, within the platform's ceiling. */
export class RetentionSettings {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly maxDays: number) {}

  async get(ctx: TenantContext): Promise<Retention> {
    this.policy.check(ctx, 'telemetry.read');
    return this.db.withTenant(ctx, async (tx) => this.answer((await tx.query<{ days: number }>('SELECT telemetry_retention_days AS days FROM tenants WHERE id = $1', [ctx.tenantId])).rows[0]!.days));
  }

  /** Shortening it deletes data at the next maintenance run: data.purge, as purging does. */
  async set(ctx: TenantContext, days: number, options: { confirm?: boolean } = {}): Promise<Retention> {
    const grant = this.policy.check(ctx, 'data.purge');
    requireConfirmation(grant, options.confirm, 'Changing how long telemetry is kept');
    if (!Number.isInteger(days) || days < 1 || days > this.maxDays) {
      throw new GatewayError('VALIDATION_FAILED', `telemetryRetentionDays must be a whole number of days from 1 to ${this.maxDays} (TELEMETRY_RETENTION_MAX_DAYS).`);
    }
    return this.db.withTenant(ctx, async (tx) => {
      const before = (await tx.query<{ days: number }>('UPDATE tenants n SET telemetry_retention_days = $2 FROM tenants o WHERE n.id = $1 AND o.id = n.id RETURNING o.telemetry_retention_days AS days', [ctx.tenantId, days])).rows[0]!.days;
      await recordSecurityEvent(tx, ctx, { type: 'RETENTION_CHANGED', details: { from: before, to: days } });
      return this.answer(days);
    });
  }

  private answer(days: number): Retention {
    return { telemetryRetentionDays: Math.min(days, this.maxDays), maxDays: this.maxDays };
  }
}
