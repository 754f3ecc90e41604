import type { TenantContext } from '../auth/context.js';
import type { JoinPoint, Tx } from '../db/database.js';

/** Every type of event the audit log records (a push rule may name any of them). */
export const SECURITY_EVENT_TYPES = [
  'TENANT_CREATED', 'USER_CREATED', 'MEMBERSHIP_CREATED', 'DEVICE_CREATED', 'DEVICE_SECRET_ROTATED',
  'DEVICE_STATUS_CHANGED', 'DEVICE_UPDATED', 'DEVICE_REMOVED', 'DATA_PURGED', 'RETENTION_CHANGED', 'APP_CREATED',
  'APP_SECRET_ROTATED', 'APP_DELETED', 'MEMBERSHIP_REMOVED', 'MEMBER_ROLE_CHANGED', 'INVITATION_CREATED',
  'INVITATION_REVOKED', 'INVITATION_ACCEPTED', 'LOGIN', 'LOGIN_FAILED', 'LOCKOUT', 'DEVICE_CONNECT',
  'DEVICE_AUTH_FAILED', 'DEVICE_TOPIC_VIOLATION', 'REFRESH_TOKEN_REUSE', 'SESSION_REVOKED', 'COMMAND_SENT',
  'VOICE_INTENT', 'VOICE_REQUEST_REFUSED', 'PIN_FAILED', 'PIN_LOCKOUT', 'VOICE_PIN_SET', 'VOICE_PIN_RESET',
  'VOICE_POLICY_CHANGED', 'VOICE_GRANT_ACCEPTED', 'VOICE_GRANT_DROPPED', 'APPROVAL_REQUESTED',
  'APPROVAL_POLICY_CHANGED', 'COMMAND_APPROVED', 'COMMAND_DENIED', 'PUSH_TOKEN_MOVED', 'NOTIFICATION_RULES_CHANGED',
  'PUSH_DEAD_LETTER_RETRIED', 'PUSH_CREDENTIAL_REFUSED', 'PUSH_CREDENTIAL_SET', 'VOICE_CREDENTIAL_SET',
  'SCENE_CHANGED', 'SCENE_ACTIVATED', 'AUTOMATION_CHANGED', 'AUTOMATION_RUN', 'AUTOMATION_LOOP_STOPPED', 'TENANT_TIME_ZONE_CHANGED',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

export type SecurityEvent = {
  type: SecurityEventType;
  details?: Record<string, unknown>;
  userId?: string;
  deviceId?: string;
  sourceIp?: string;
};

/** An event as it was recorded, with the channel it came through. */
export type RecordedSecurityEvent = SecurityEvent & { channel?: string };

/**
 * Events of a tenant recorded in a transaction: whoever joins this point (the
 * notification outbox, wired in create-core.ts) writes in that transaction,
 * so that what follows from an event commits exactly when the event does.
 */
export const SECURITY_EVENTS_RECORDED: JoinPoint<{ tenantId: string; events: readonly RecordedSecurityEvent[] }> = { name: 'security events recorded' };

const INSERT = `INSERT INTO security_events (tenant_id, event_type, channel, principal, user_id, device_id, source_ip, details)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;

/**
 * The audit log (security_events). Written inside the caller's transaction so
 * that an event is recorded exactly when its cause is.
 */
export async function recordSecurityEvent(tx: Tx, ctx: TenantContext, event: SecurityEvent): Promise<void> {
  const userId = event.userId ?? (ctx.principal.kind === 'user' ? ctx.principal.id : undefined);
  await tx.query(INSERT, [
    ctx.tenantId, event.type, ctx.channel, JSON.stringify(ctx.principal), userId ?? null,
    event.deviceId ?? (ctx.principal.kind === 'device' ? ctx.principal.id : null),
    event.sourceIp ?? null, JSON.stringify(event.details ?? {}),
  ]);
  await tx.joined(SECURITY_EVENTS_RECORDED, { tenantId: ctx.tenantId, events: [{ ...event, channel: ctx.channel, ...(userId ? { userId } : {}) }] });
}

/**
 * Several events of one caller in one statement (a batch of 1 000 new devices
 * is audited device by device without 1 000 round trips).
 */
export async function recordSecurityEvents(tx: Tx, ctx: TenantContext, events: readonly SecurityEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `INSERT INTO security_events (tenant_id, event_type, channel, principal, user_id, device_id, source_ip, details)
     SELECT $1, e.type, $2, $3, e.user_id, e.device_id, e.source_ip, e.details
       FROM unnest($4::text[], $5::uuid[], $6::uuid[], $7::inet[], $8::jsonb[]) AS e(type, user_id, device_id, source_ip, details)`,
    [
      ctx.tenantId, ctx.channel, JSON.stringify(ctx.principal),
      events.map((e) => e.type),
      events.map((e) => e.userId ?? (ctx.principal.kind === 'user' ? ctx.principal.id : null)),
      events.map((e) => e.deviceId ?? (ctx.principal.kind === 'device' ? ctx.principal.id : null)),
      events.map((e) => e.sourceIp ?? null),
      events.map((e) => JSON.stringify(e.details ?? {})),
    ],
  );
  await tx.joined(SECURITY_EVENTS_RECORDED, { tenantId: ctx.tenantId, events: events.map((event) => ({ ...event, channel: ctx.channel })) });
}

/** An event before any TenantContext exists (a failed login); tenantId null when no tenant owns it. */
export async function recordPlatformEvent(tx: Tx, tenantId: string | null, event: RecordedSecurityEvent): Promise<void> {
  await tx.query(INSERT, [
    tenantId, event.type, event.channel ?? null, null, event.userId ?? null, event.deviceId ?? null,
    event.sourceIp ?? null, JSON.stringify(event.details ?? {}),
  ]);
  if (tenantId) await tx.joined(SECURITY_EVENTS_RECORDED, { tenantId, events: [event] });
}
