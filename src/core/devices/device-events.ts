import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { isDataException } from '../../db/pg-errors.js';
import { GatewayError } from '../errors.js';
import type { EventBus } from '../event-bus.js';
import { CURSOR_AT, decodeCursor, pageOf, rowsToFetch } from '../keyset-cursor.js';
import type { NotificationOutbox } from '../notifications/notification-outbox.js';
import type { AutomationTriggers } from '../automations/automation-triggers.js';
import type { AccessPolicy } from '../policy/access-policy.js';

export type DeviceEvent = { id: string; kind: string; payload: unknown; receivedAt: Date };
export type DeviceEventPage = { items: DeviceEvent[]; next: string | null };
export type DeviceEventQuery = { from?: Date; to?: Date; kind?: string; limit?: number; cursor?: string };

export const MAX_EVENT_PAGE = 1000;
/** An event is an alert, not a data stream: 64 KiB is plenty, and bounds what one device can store per message. */
export const MAX_EVENT_BYTES = 64 * 1024;
const MAX_KIND_LENGTH = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `payloadJson` as stored: any JSON value, `null` for an empty message (a bare doorbell press). */
function checkPayload(payloadJson: string): { text: string; value: unknown } {
  if (Buffer.byteLength(payloadJson) > MAX_EVENT_BYTES) throw new GatewayError('PAYLOAD_TOO_LARGE', `A device event may be at most ${MAX_EVENT_BYTES} bytes.`);
  if (payloadJson.trim() === '') return { text: 'null', value: null };
  // Postgres jsonb refuses \u0000 in strings: refuse it here, as telemetry does.
  if (payloadJson.includes('\\u0000')) throw new GatewayError('VALIDATION_FAILED', 'A device event may not contain \\u0000.');
  try {
    return { text: payloadJson, value: JSON.parse(payloadJson) as unknown };
  } catch {
    throw new GatewayError('VALIDATION_FAILED', 'A device event must be JSON.');
  }
}

function checkKind(kind: string): void {
  // The topic levels after events/: never a wildcard or NUL (the broker's topic rules), and bounded.
  if (kind.length > MAX_KIND_LENGTH || /[+#]/.test(kind) || kind.includes('\u0000')) {
    throw new GatewayError('VALIDATION_FAILED', `An event kind is at most ${MAX_KIND_LENGTH} characters, without +, # or NUL.`, { kind: kind.slice(0, MAX_KIND_LENGTH) });
  }
}

/**
 * Device events (`devices/<name>/events[/<kind>]`): stored, announced as
 * `device.event` once committed (push notifications are triggered by it), and
 * read back newest first in pages.
 */
export class DeviceEvents {
  constructor(
    private readonly db: Database, private readonly policy: AccessPolicy, private readonly events: EventBus, private readonly outbox: NotificationOutbox,
    /** Automations the event triggers: their runs are written in the event's transaction. */
    private readonly triggers?: AutomationTriggers,
  ) {}

  /**
   * Stores one event of `deviceId`. A device may record only its own events;
   * the system (automation channel) any device of its tenant.
   */
  async record(ctx: TenantContext, deviceId: string, kind: string, payloadJson: string): Promise<{ id: string; receivedAt: Date }> {
    this.policy.check(ctx, 'telemetry.publish');
    const notFound = () => new GatewayError('DEVICE_NOT_FOUND', 'Not found, or no access.', { ids: [deviceId] });
    if (!UUID.test(deviceId) || (ctx.principal.kind === 'device' && ctx.principal.id !== deviceId)) throw notFound();
    checkKind(kind);
    const payload = checkPayload(payloadJson);
    return this.insert(ctx, deviceId, kind, payload).catch((error: unknown) => {
      // JSON that Postgres's jsonb refuses (a lone surrogate escape): the device's fault, not the server's.
      if (isDataException(error)) throw new GatewayError('VALIDATION_FAILED', 'The device event is JSON that cannot be stored.');
      throw error;
    });
  }

  private insert(ctx: TenantContext, deviceId: string, kind: string, payload: { text: string; value: unknown }): Promise<{ id: string; receivedAt: Date }> {
    const notFound = () => new GatewayError('DEVICE_NOT_FOUND', 'Not found, or no access.', { ids: [deviceId] });
    return this.db.withTenant(ctx, async (tx) => {
      // Row-level security holds tenant_id to this tenant, and the foreign key (tenant_id, device_id) the device to it.
      const { rows } = await tx.query<{ id: string; receivedAt: Date }>(
        `INSERT INTO device_events (tenant_id, device_id, kind, payload)
         SELECT $1, d.id, $3, $4::jsonb FROM devices d WHERE d.id = $2
         RETURNING id, received_at AS "receivedAt"`,
        [ctx.tenantId, deviceId, kind, payload.text],
      );
      const row = rows[0];
      if (!row) throw notFound();
      await this.outbox.deviceEvent(tx, ctx.tenantId, { deviceId, eventId: row.id, kind });
      await this.triggers?.deviceEvent(tx, ctx.tenantId, { deviceId, eventId: row.id, kind });
      tx.afterCommit(() => this.events.emit('device.event', { tenantId: ctx.tenantId, deviceId, eventId: row.id, kind, payload: payload.value }));
      return row;
    });
  }

  /** A device's stored events, newest first, in pages (keyset on received_at, id). */
  async list(ctx: TenantContext, device: string, query: DeviceEventQuery = {}): Promise<DeviceEventPage> {
    const { resolved } = await this.policy.requireAccess(ctx, 'telemetry.read', [device]);
    const { limit, fetch } = rowsToFetch(query.limit, MAX_EVENT_PAGE);
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const rows = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<DeviceEvent & { at: string }>(
        `SELECT id, kind, payload, received_at AS "receivedAt", ${CURSOR_AT('received_at')} AS at
           FROM device_events
          WHERE device_id = $1
            AND ($2::timestamptz IS NULL OR received_at >= $2)
            AND ($3::timestamptz IS NULL OR received_at < $3)
            AND ($4::text IS NULL OR kind = $4)
            AND ($5::timestamptz IS NULL OR (received_at, id) < ($5, $6::uuid))
          ORDER BY received_at DESC, id DESC
          LIMIT $7`,
        [resolved.get(device), query.from ?? null, query.to ?? null, query.kind ?? null, cursor?.at ?? null, cursor?.id ?? null, fetch],
      )).rows,
    );
    return pageOf(rows, limit);
  }

  /**
   * The last few events of a device as a summary (kind and time, no payload):
   * seed 003's "view personal summaries" (device.read), which voice may; the
   * events themselves are a detailed report (telemetry.read), which it may not.
   */
  async recentSummary(ctx: TenantContext, device: string, limit = 3): Promise<{ kind: string; receivedAt: Date }[]> {
    const { resolved } = await this.policy.requireAccess(ctx, 'device.read', [device]);
    return this.db.withTenant(ctx, async (tx) => (await tx.query<{ kind: string; receivedAt: Date }>(
      'SELECT kind, received_at AS "receivedAt" FROM device_events WHERE device_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2',
      [resolved.get(device), Math.max(1, Math.min(10, limit))],
    )).rows);
  }
}
