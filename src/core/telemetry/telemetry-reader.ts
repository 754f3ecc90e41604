import type { TenantContext } from '../../auth/context.js';
import type { Database } from '../../db/database.js';
import { CURSOR_AT, decodeCursor, pageOf, rowsToFetch } from '../keyset-cursor.js';
import type { AccessPolicy } from '../policy/access-policy.js';

/** A JSON payload comes back as `payload`; any other as `payloadBase64` with its `contentType`. */
export type TelemetryPoint = { id: string; stream: string; receivedAt: Date; payload?: unknown; payloadBase64?: string; contentType?: string };
type StoredPoint = { id: string; stream: string; receivedAt: Date; payload: unknown; bytes: Buffer | null; contentType: string | null; at: string };

function pointOf({ bytes, contentType, payload, at, ...point }: StoredPoint): TelemetryPoint & { at: string } {
  return bytes === null ? { ...point, payload, at } : { ...point, payloadBase64: bytes.toString('base64'), contentType: contentType ?? 'application/octet-stream', at };
}
export type TelemetryPage = { items: TelemetryPoint[]; next: string | null };
export type TelemetryQuery = { from?: Date; to?: Date; stream?: string; limit?: number; cursor?: string };

export const MAX_PAGE = 1000;

/** Stored telemetry of one device, newest first, in pages (keyset on received_at, id). */
export class TelemetryReader {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy) {}

  async query(ctx: TenantContext, device: string, query: TelemetryQuery): Promise<TelemetryPage> {
    const { resolved } = await this.policy.requireAccess(ctx, 'telemetry.read', [device]);
    const { limit, fetch } = rowsToFetch(query.limit, MAX_PAGE);
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const rows = await this.db.withTenant(ctx, async (tx) =>
      (await tx.query<StoredPoint>(
        `SELECT id, stream, received_at AS "receivedAt", payload, payload_bytes AS bytes, content_type AS "contentType", ${CURSOR_AT('received_at')} AS at
           FROM telemetry
          WHERE device_id = $1
            AND ($2::timestamptz IS NULL OR received_at >= $2)
            AND ($3::timestamptz IS NULL OR received_at < $3)
            AND ($4::text IS NULL OR stream = $4)
            AND ($5::timestamptz IS NULL OR (received_at, id) < ($5, $6::uuid))
          ORDER BY received_at DESC, id DESC
          LIMIT $7`,
        [resolved.get(device), query.from ?? null, query.to ?? null, query.stream ?? null, cursor?.at ?? null, cursor?.id ?? null, fetch],
      )).rows.map(pointOf),
    );
    return pageOf(rows, limit);
  }
}
