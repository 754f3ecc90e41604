import type { Tx } from '../../db/database.js';
import { ROLES, roleRank } from '../../auth/context.js';
import type { RecordedSecurityEvent, SecurityEventType } from '../audit-log.js';
import type { EventBus } from '../event-bus.js';
import { topicMatches } from '../topics/topic-match.js';
import { rulesOf, type Audience } from './notification-rules.js';
import { heldUntil } from './quiet-hours.js';

export const NOTIFICATION_TYPES = [
  'device.alarm', 'device.event', 'device.offline', 'command.failed', 'command.expired', 'approval.requested', 'pin.locked', 'security.event',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];
/** What a person mutes: alarms, other device news, their commands, approvals, security. */
export type NotificationCategory = 'alarm' | 'device' | 'command' | 'approval' | 'security';

export const CATEGORY_OF: Record<NotificationType, NotificationCategory> = {
  'device.alarm': 'alarm', 'device.event': 'device', 'device.offline': 'device', 'command.failed': 'command', 'command.expired': 'command',
  'approval.requested': 'approval', 'pin.locked': 'security', 'security.event': 'security',
};

type Draft = { type: NotificationType; critical: boolean; deviceId?: string; commandId?: string; data: Record<string, string> };
type RecipientRow = { user_id: string; muted: string[] | null; quiet_start: number | null; quiet_end: number | null; timezone: string | null; token_id: string | null; token_timezone: string | null };

const ADMINS = ['admin', 'owner'];
/** Security events admins hear of whatever their rules say: a refused provider credential stops their tenant's push; a looping automation was switched off. */
const ALWAYS_TOLD: ReadonlySet<SecurityEventType> = new Set(['PUSH_CREDENTIAL_REFUSED', 'AUTOMATION_LOOP_STOPPED']);

/**
 * The transactional outbox (seed 004): a cause and its notifications commit
 * together. Each method runs inside the cause's transaction, reads the
 * tenant's rules, picks the recipients, and writes one notification per person
 * (their history) and one delivery per active token, held back by quiet hours
 * unless it is an alarm or an approval. Every statement names the tenant: the
 * expiry of commands runs as the platform, across tenants.
 */
export class NotificationOutbox {
  constructor(private readonly events: EventBus, private readonly now: () => Date = () => new Date()) {}

  async deviceEvent(tx: Tx, tenantId: string, event: { deviceId: string; eventId: string; kind: string }): Promise<void> {
    const rule = (await rulesOf(tx, tenantId)).deviceEvents.find((candidate) => topicMatches(candidate.kind, event.kind));
    if (!rule) return;
    const device = await deviceOf(tx, tenantId, event.deviceId);
    if (!device) return;
    const critical = rule.critical === true;
    await this.write(tx, tenantId, await audience(tx, tenantId, rule.to, device), {
      type: critical ? 'device.alarm' : 'device.event', critical, deviceId: event.deviceId,
      data: { device: device.name, kind: event.kind, eventId: event.eventId },
    });
  }

  /** A device offline for longer than its tenant's rule allows, to the rule's audience. */
  async deviceOffline(tx: Tx, tenantId: string, device: { id: string; name: string; ownerUserId: string | null; to: Audience; lastSeenAt: Date }): Promise<void> {
    await this.write(tx, tenantId, await audience(tx, tenantId, device.to, device), {
      type: 'device.offline', critical: false, deviceId: device.id, data: { device: device.name, lastSeenAt: device.lastSeenAt.toISOString() },
    });
  }

  /** To those who may approve: owners, admins and the device's owner user; not the requester when a second person is required. */
  async approvalRequested(tx: Tx, tenantId: string, request: { commandId: string; deviceId: string; command: string; requestedBy: string }): Promise<void> {
    if (!(await rulesOf(tx, tenantId)).approvalRequested) return;
    const { rows } = await tx.query<{ user_id: string; device: string }>(
      `SELECT m.user_id, d.name AS device
         FROM devices d JOIN tenants t ON t.id = d.tenant_id
         JOIN memberships m ON m.tenant_id = d.tenant_id AND (m.role = ANY($3) OR m.user_id = d.owner_user_id)
        WHERE d.tenant_id = $1 AND d.id = $2 AND NOT (t.approval_second_person AND m.user_id::text = $4)`,
      [tenantId, request.deviceId, ADMINS, request.requestedBy],
    );
    if (rows.length === 0) return;
    await this.write(tx, tenantId, rows.map((row) => row.user_id), {
      type: 'approval.requested', critical: true, deviceId: request.deviceId, commandId: request.commandId,
      data: { device: rows[0]!.device, command: request.command, commandId: request.commandId },
    });
  }

  /** A failed or expired command, to the person who asked for it. */
  async commandFinished(tx: Tx, tenantId: string, finished: { commandId: string; status: 'failed' | 'expired' }): Promise<void> {
    if (!(await rulesOf(tx, tenantId)).commandFailed) return;
    const { rows } = await tx.query<{ user_id: string; device_id: string; device: string; command: string }>(
      `SELECT m.user_id, c.device_id, d.name AS device, c.name AS command
         FROM commands c JOIN devices d ON d.id = c.device_id AND d.tenant_id = c.tenant_id
         JOIN memberships m ON m.tenant_id = c.tenant_id AND m.user_id::text = c.issued_by->>'id'
        WHERE c.tenant_id = $1 AND c.id = $2 AND c.issued_by->>'kind' IN ('user', 'voice')`,
      [tenantId, finished.commandId],
    );
    const row = rows[0];
    if (!row) return;
    await this.write(tx, tenantId, [row.user_id], {
      type: finished.status === 'failed' ? 'command.failed' : 'command.expired', critical: false, deviceId: row.device_id, commandId: finished.commandId,
      data: { device: row.device, command: row.command, commandId: finished.commandId },
    });
  }

  /**
   * An automation's `notify` action, to the members it names (ids that are not members of the tenant are
   * nobody). Rendered as the push templates render device news (a dedicated type needs templates of its
   * own in src/push): an alarm when `critical`, else a device event, the message as its kind.
   */
  async automationNotice(tx: Tx, tenantId: string, notice: { userIds: string[]; automationId: string; automation: string; message: string; critical: boolean; deviceId?: string }): Promise<number> {
    const { rows } = await tx.query<{ user_id: string }>('SELECT user_id FROM memberships WHERE tenant_id = $1 AND user_id = ANY($2::uuid[])', [tenantId, notice.userIds]);
    const device = notice.deviceId ? await deviceOf(tx, tenantId, notice.deviceId) : undefined;
    await this.write(tx, tenantId, rows.map((row) => row.user_id), {
      type: notice.critical ? 'device.alarm' : 'device.event', critical: notice.critical, deviceId: device ? notice.deviceId : undefined,
      data: { device: device?.name ?? notice.automation, kind: notice.message, automation: notice.automation, automationId: notice.automationId },
    });
    return rows.length;
  }

  async pinLocked(tx: Tx, tenantId: string, lock: { userId: string; until: Date }): Promise<void> {
    if (!(await rulesOf(tx, tenantId)).pinLocked) return;
    await this.write(tx, tenantId, [lock.userId], { type: 'pin.locked', critical: false, data: { until: lock.until.toISOString() } });
  }

  /**
   * Security events just recorded in this transaction (joined to the audit log, audit-log.ts), to the
   * tenant's admins and owners: each whose type the tenant's rules name, or that they hear of always.
   */
  async securityEventsRecorded(tx: Tx, recorded: { tenantId: string; events: readonly RecordedSecurityEvent[] }): Promise<void> {
    const { tenantId } = recorded;
    const named = new Set<string>((await rulesOf(tx, tenantId)).securityEvents);
    const told = recorded.events.filter((event) => named.has(event.type) || ALWAYS_TOLD.has(event.type));
    if (told.length === 0) return;
    const { rows } = await tx.query<{ user_id: string }>('SELECT user_id FROM memberships WHERE tenant_id = $1 AND role = ANY($2)', [tenantId, ADMINS]);
    for (const event of told) await this.write(tx, tenantId, rows.map((row) => row.user_id), { type: 'security.event', critical: false, data: alertData(event) });
  }

  private async write(tx: Tx, tenantId: string, userIds: string[], draft: Draft): Promise<void> {
    if (userIds.length === 0) return;
    const category = CATEGORY_OF[draft.type];
    const { rows } = await tx.query<RecipientRow>(
      `SELECT r.user_id, p.muted, p.quiet_start, p.quiet_end, p.timezone, t.id AS token_id, t.timezone AS token_timezone
         FROM unnest($2::uuid[]) AS r(user_id)
         JOIN users u ON u.id = r.user_id AND u.status = 'active'
         LEFT JOIN notification_preferences p ON p.tenant_id = $1 AND p.user_id = r.user_id
         LEFT JOIN push_tokens t ON t.tenant_id = $1 AND t.user_id = r.user_id AND t.invalidated_at IS NULL`,
      [tenantId, [...new Set(userIds)]],
    );
    const now = this.now();
    const people = new Map<string, { tokens: string[]; sendAt: Date }>();
    for (const row of rows) {
      if (row.muted?.includes(category)) continue;
      let person = people.get(row.user_id);
      if (!person) {
        const zone = row.timezone ?? row.token_timezone;
        const quiet = !draft.critical && row.quiet_start !== null && row.quiet_end !== null && zone
          ? heldUntil(now, { start: row.quiet_start, end: row.quiet_end, timeZone: zone }) : null;
        person = { tokens: [], sendAt: quiet ?? now };
        people.set(row.user_id, person);
      }
      if (row.token_id) person.tokens.push(row.token_id);
    }
    if (people.size === 0) return;
    const users = [...people.keys()];
    const { rows: written } = await tx.query<{ id: string; user_id: string }>(
      `INSERT INTO notifications (tenant_id, user_id, type, category, critical, device_id, command_id, data)
       SELECT $1, u, $3, $4, $5, $6, $7, $8 FROM unnest($2::uuid[]) AS u RETURNING id, user_id`,
      [tenantId, users, draft.type, category, draft.critical, draft.deviceId ?? null, draft.commandId ?? null, JSON.stringify(draft.data)],
    );
    const deliveries = written.flatMap((n) => people.get(n.user_id)!.tokens.map((token) => [n.id, token, people.get(n.user_id)!.sendAt] as const));
    if (deliveries.length === 0) return;
    await tx.query(
      `INSERT INTO push_deliveries (tenant_id, notification_id, token_id, next_attempt_at)
       SELECT $1, d.n, d.t, d.at FROM unnest($2::uuid[], $3::uuid[], $4::timestamptz[]) AS d(n, t, at)`,
      [tenantId, deliveries.map((d) => d[0]), deliveries.map((d) => d[1]), deliveries.map((d) => d[2])],
    );
    tx.afterCommit(() => this.events.emit('notification.queued', { tenantId, deliveries: deliveries.length }));
  }
}

/** Keys the payload builders read as the notification's own (its device, command, kind): an event's details do not set them. */
const RESERVED = new Set(['kind', 'device', 'command', 'commandId']);
const MAX_DETAILS = 8;
const MAX_DETAIL_LENGTH = 200;

/**
 * What a security alert carries: the event's type, whom it concerns and its plain details, as strings (FCM
 * data), few and short (they travel in the payload, whose 4 096 bytes the body gives way to, not the data).
 */
function alertData(event: RecordedSecurityEvent): Record<string, string> {
  const details = Object.entries(event.details ?? {})
    .filter(([key, value]) => !RESERVED.has(key) && ['string', 'number', 'boolean'].includes(typeof value))
    .slice(0, MAX_DETAILS)
    .map(([key, value]) => [key, String(value).slice(0, MAX_DETAIL_LENGTH)]);
  return {
    ...Object.fromEntries(details),
    ...(event.userId ? { userId: event.userId } : {}), ...(event.deviceId ? { deviceId: event.deviceId } : {}), ...(event.channel ? { channel: event.channel } : {}),
    kind: event.type,
  };
}

async function deviceOf(tx: Tx, tenantId: string, deviceId: string): Promise<{ name: string; ownerUserId: string | null } | undefined> {
  const { rows } = await tx.query<{ name: string; ownerUserId: string | null }>(
    'SELECT name, owner_user_id AS "ownerUserId" FROM devices WHERE tenant_id = $1 AND id = $2', [tenantId, deviceId]);
  return rows[0];
}

/** The members an audience names; a device without an owner user (or whose owner left) falls back to its tenant's admins. */
async function audience(tx: Tx, tenantId: string, to: Audience, device: { ownerUserId: string | null }): Promise<string[]> {
  const roles = 'minRole' in to ? ROLES.filter((role) => roleRank(role) >= roleRank(to.minRole)) : ADMINS;
  const owner = 'deviceOwner' in to ? device.ownerUserId : null;
  const { rows } = await tx.query<{ user_id: string }>(
    `SELECT user_id FROM memberships WHERE tenant_id = $1 AND ($2::uuid IS NOT NULL AND user_id = $2 OR $2::uuid IS NULL AND role = ANY($3))`,
    [tenantId, owner, roles],
  );
  if (rows.length === 0 && owner) return audience(tx, tenantId, { minRole: 'admin' }, { ownerUserId: null });
  return rows.map((row) => row.user_id);
}
