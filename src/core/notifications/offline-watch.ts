import type { Database } from '../../db/database.js';
import type { NotificationOutbox } from './notification-outbox.js';
import type { Audience } from './notification-rules.js';

type Overdue = { tenant_id: string; id: string; name: string; owner_user_id: string | null; to: Audience; last_seen_at: Date };

/**
 * "Device offline for more than N minutes" (a tenant's `deviceOffline` rule):
 * a sweep finds the devices that went quiet longer ago than the rule allows
 * and were not yet announced for this absence (no device.offline notification
 * since they were last seen), and announces each once. Devices are locked
 * SKIP LOCKED, so nodes sweeping at once announce each device once.
 */
export class OfflineWatch {
  constructor(private readonly db: Database, private readonly outbox: NotificationOutbox) {}

  async sweep(): Promise<number> {
    return this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<Overdue>(
        `SELECT d.tenant_id, d.id, d.name, d.owner_user_id, r.rules->'deviceOffline'->'to' AS "to", d.last_seen_at
           FROM push_rules r JOIN devices d ON d.tenant_id = r.tenant_id
          WHERE jsonb_typeof(r.rules->'deviceOffline') = 'object' AND d.status = 'active' AND NOT d.online
            AND d.last_seen_at < now() - make_interval(mins => (r.rules->'deviceOffline'->>'afterMinutes')::int)
            AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.device_id = d.id AND n.type = 'device.offline' AND n.created_at > d.last_seen_at)
          ORDER BY d.last_seen_at LIMIT 500
          FOR UPDATE OF d SKIP LOCKED`,
      );
      for (const row of rows) {
        await this.outbox.deviceOffline(tx, row.tenant_id, { id: row.id, name: row.name, ownerUserId: row.owner_user_id, to: row.to, lastSeenAt: row.last_seen_at });
      }
      return rows.length;
    });
  }
}
