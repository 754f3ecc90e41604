import type { Database } from '../../db/database.js';

type Presence = { tenantId: string; connections: number; dirty: boolean; seen: boolean };
type StateUpdate = { tenantId: string; state: string };

const PRESENCE_UPDATE = `UPDATE devices d SET online = u.online, last_seen_at = now()
  FROM unnest($1::uuid[], $2::bool[]) AS u(id, online) WHERE d.id = u.id`;
const STATE_UPSERT = `INSERT INTO device_state (tenant_id, device_id, state, updated_at)
  SELECT $1::uuid, u.id, u.state::jsonb, now() FROM unnest($2::uuid[], $3::text[]) AS u(id, state)
  ON CONFLICT (device_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`;

/**
 * Presence, last-seen and current state, written in batches on a timer rather
 * than one UPDATE per packet: a device that connects, publishes a thousand
 * state updates and leaves costs one or two statements.
 */
export class DeviceStateWriter {
  private readonly presence = new Map<string, Presence>();
  private states = new Map<string, StateUpdate>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Database, intervalMs: number, private readonly onError: (error: Error) => void) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  connected(tenantId: string, deviceId: string): void {
    const entry = this.presence.get(deviceId) ?? { tenantId, connections: 0, dirty: false, seen: false };
    entry.connections++;
    entry.dirty = true;
    this.presence.set(deviceId, entry);
  }

  disconnected(deviceId: string): void {
    const entry = this.presence.get(deviceId);
    if (!entry) return;
    entry.connections = Math.max(0, entry.connections - 1);
    entry.dirty = true;
  }

  /** Activity moves last_seen_at at the next flush. */
  seen(deviceId: string): void {
    const entry = this.presence.get(deviceId);
    if (entry) entry.seen = true;
  }

  state(tenantId: string, deviceId: string, state: string): void {
    this.states.set(deviceId, { tenantId, state });
  }

  /** Writes what changed; serialised, so two flushes never race. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeChanges()).catch((error: Error) => this.onError(error));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async writeChanges(): Promise<void> {
    const presence = new Map<string, { ids: string[]; online: boolean[] }>();
    for (const [deviceId, entry] of this.presence) {
      if (!entry.dirty && !entry.seen) continue;
      const group = presence.get(entry.tenantId) ?? { ids: [], online: [] };
      group.ids.push(deviceId);
      group.online.push(entry.connections > 0);
      presence.set(entry.tenantId, group);
      entry.dirty = false;
      entry.seen = false;
      if (entry.connections === 0) this.presence.delete(deviceId);
    }
    const states = new Map<string, { ids: string[]; values: string[] }>();
    for (const [deviceId, update] of this.states) {
      const group = states.get(update.tenantId) ?? { ids: [], values: [] };
      group.ids.push(deviceId);
      group.values.push(update.state);
      states.set(update.tenantId, group);
    }
    this.states = new Map();
    if (presence.size > 0) await this.db.withEachTenant(presence, (tx, group) => tx.query(PRESENCE_UPDATE, [group.ids, group.online]).then(() => undefined));
    if (states.size > 0) {
      await this.db.withEachTenant(states, (tx, group, tenantId) => tx.query(STATE_UPSERT, [tenantId, group.ids, group.values]).then(() => undefined));
    }
  }
}
