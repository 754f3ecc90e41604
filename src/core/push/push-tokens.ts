import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { recordPlatformEvent, recordSecurityEvent } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import type { AccessPolicy } from '../policy/access-policy.js';

export type PushPlatform = 'ios' | 'android';
export type PushEnvironment = 'sandbox' | 'production';
export type PushTokenInput = { platform: PushPlatform; token: string; appId: string; environment: PushEnvironment; locale?: string; timezone?: string };
export type PushToken = {
  id: string; platform: PushPlatform; environment: PushEnvironment; token: string; appId: string;
  locale: string | null; timezone: string | null; registeredAt: Date; active: boolean;
};

// APNs tokens are hex, FCM's base64url with ':'; neither holds anything else.
const TOKEN = /^[A-Za-z0-9:_.-]{8,4096}$/;
const LOCALE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/;
const COLUMNS = `id, platform, environment, token, app_id AS "appId", locale, timezone, registered_at AS "registeredAt", invalidated_at IS NULL AS active`;

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function checkInput(input: PushTokenInput): void {
  const wrong = (field: string, why: string) => new GatewayError('VALIDATION_FAILED', `${field} ${why}.`, { field });
  if (!TOKEN.test(input.token)) throw wrong('token', 'must be 8 to 4096 characters of A-Z, a-z, 0-9, ":", "_", "." or "-"');
  if (input.locale !== undefined && !LOCALE.test(input.locale)) throw wrong('locale', 'must be a language tag such as "en" or "de-AT"');
  if (input.timezone !== undefined && !isTimeZone(input.timezone)) throw wrong('timezone', 'must be an IANA time zone such as "Europe/Berlin"');
}

/** The people's push tokens: one app install, one current user (a token registered again moves to its caller). */
export class PushTokens {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy) {}

  async register(ctx: TenantContext, input: PushTokenInput): Promise<PushToken & { moved: boolean }> {
    const userId = this.owner(ctx);
    checkInput(input);
    // As the platform: the token may be registered in another tenant, which row-level security would hide.
    return this.db.withPlatform(async (tx) => {
      const previous = (await tx.query<{ id: string; tenant_id: string; user_id: string }>(
        'SELECT id, tenant_id, user_id FROM push_tokens WHERE platform = $1 AND environment = $2 AND token = $3 FOR UPDATE',
        [input.platform, input.environment, input.token],
      )).rows[0];
      // registered_at starts again: an APNs 410 older than this registration no longer invalidates it.
      const { rows } = await tx.query<PushToken>(
        `INSERT INTO push_tokens (tenant_id, user_id, platform, environment, token, app_id, locale, timezone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (platform, environment, token) DO UPDATE
           SET tenant_id = EXCLUDED.tenant_id, user_id = EXCLUDED.user_id, app_id = EXCLUDED.app_id, locale = EXCLUDED.locale,
               timezone = EXCLUDED.timezone, registered_at = now(), invalidated_at = NULL, invalid_reason = NULL
         RETURNING ${COLUMNS}`,
        [ctx.tenantId, userId, input.platform, input.environment, input.token, input.appId, input.locale ?? null, input.timezone ?? null],
      );
      const token = rows[0]!;
      const moved = previous !== undefined && (previous.tenant_id !== ctx.tenantId || previous.user_id !== userId);
      if (moved) {
        // What was queued for the previous user must not reach the new one.
        await tx.query(`UPDATE push_deliveries SET state = 'dropped', last_reason = 'token moved', lease_id = NULL WHERE token_id = $1 AND state IN ('queued', 'leased')`, [token.id]);
        const sameTenant = previous.tenant_id === ctx.tenantId;
        await recordSecurityEvent(tx, ctx, { type: 'PUSH_TOKEN_MOVED', details: { tokenId: token.id, platform: input.platform, ...(sameTenant ? { fromUser: previous.user_id } : { fromAnotherTenant: true }) } });
        if (!sameTenant) {
          // The tenant it left learns that it left, not where it went.
          await recordPlatformEvent(tx, previous.tenant_id, { type: 'PUSH_TOKEN_MOVED', channel: ctx.channel, userId: previous.user_id, details: { tokenId: token.id, platform: input.platform, toAnotherTenant: true } });
        }
      }
      return { ...token, moved };
    });
  }

  /** The caller's own tokens in the active tenant. */
  async list(ctx: TenantContext): Promise<PushToken[]> {
    const userId = this.owner(ctx);
    return this.db.withTenant(ctx, async (tx) =>
      (await tx.query<PushToken>(`SELECT ${COLUMNS} FROM push_tokens WHERE user_id = $1 ORDER BY registered_at DESC`, [userId])).rows);
  }

  /** Unregisters one of the caller's own tokens (an app's logout or uninstall path). */
  async remove(ctx: TenantContext, token: string): Promise<void> {
    const userId = this.owner(ctx);
    const { rowCount } = await this.db.withTenant(ctx, (tx) => tx.query('DELETE FROM push_tokens WHERE user_id = $1 AND token = $2', [userId, token]));
    if (!rowCount) throw new GatewayError('NOT_FOUND', 'Not found, or no access.');
  }

  private owner(ctx: TenantContext): string {
    this.policy.check(ctx, 'push.register');
    if (ctx.principal.kind !== 'user') throw new GatewayError('POLICY_DENIED', 'Push tokens belong to people.');
    return ctx.principal.id;
  }
}
