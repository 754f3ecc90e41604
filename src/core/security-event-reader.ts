import type { TenantContext } from '../auth/context.js';
import type { Database } from '../db/database.js';
import { CURSOR_AT, decodeCursor, pageOf, rowsToFetch } from './keyset-cursor.js';
import type { AccessPolicy } from './policy/access-policy.js';

export type StoredSecurityEvent = {
  id: string;
  type: string;
  channel: string | null;
  principal: unknown;
  userId: string | null;
  deviceId: string | null;
  sourceIp: string | null;
  details: unknown;
  createdAt: Date;
};

export type SecurityEventQuery = { from?: Date; to?: Date; type?: string; limit?: number; cursor?: string };

export const MAX_SECURITY_EVENT_PAGE = 500;

/** The tenant's audit log, read back newest first in pages (seed 003's "View audit & security events"). */
export class SecurityEventReader {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy) {}

  async list(ctx: TenantContext, query: SecurityEventQuery = {}): Promise<{ items: StoredSecurityEvent[]; next: string | null }> {
    this.policy.check(ctx, 'security_events.read');
    const { limit, fetch } = rowsToFetch(query.limit, MAX_SECURITY_EVENT_PAGE);
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    // Row-level security holds the rows to this tenant; platform events (tenant_id NULL) are not the tenant's to read.
    const rows = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<StoredSecurityEvent & { at: string }>(
        `SELECT id, event_type AS type, channel, principal, user_id AS "userId", device_id AS "deviceId", host(source_ip) AS "sourceIp",
                details, created_at AS "createdAt", ${CURSOR_AT('created_at')} AS at
           FROM security_events
          WHERE tenant_id = $1
            AND ($2::timestamptz IS NULL OR created_at >= $2)
            AND ($3::timestamptz IS NULL OR created_at < $3)
            AND ($4::text IS NULL OR event_type = $4)
            AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid))
          ORDER BY created_at DESC, id DESC
          LIMIT $7`,
        [ctx.tenantId, query.from ?? null, query.to ?? null, query.type ?? null, cursor?.at ?? null, cursor?.id ?? null, fetch],
      )).rows,
    );
    return pageOf(rows, limit);
  }
}
