import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { Tx } from '../../db/database.js';
import type { EventBus } from '../event-bus.js';

/** Called in the transaction that stores a tenant's new states (automations' threshold triggers write their runs there). */
export type StatesWritten = (tx: Tx, tenantId: string, states: { deviceId: string; state: unknown }[]) => Promise<void>;

type Presence = { tenant: TenantScope; connections: number; dirty: boolean; seen: boolean };
type StateUpdate = { tenant: TenantScope; state: string };

/** First, so that two nodes writing one device's presence take turns (and meet a sweep, node-presence.ts, the same way). */
export const LOCK_DEVICES = 'SELECT id FROM devices WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE';
/**
 * Records this node's connections of each device named ($3), moves
 * last_seen_at, and online where it changed (online: a connection here or on
 * another node); returns the devices whose online changed, for
 * device.presence.changed. A statement after LOCK_DEVICES, so it reads what
 * the node that held the lock before committed.
 */
const PRESENCE_UPDATE = `WITH u AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS u(id, connections)),
  gone AS (DELETE FROM device_connections c USING u WHERE c.device_id = u.id AND c.node_id = $3 AND u.connections = 0),
  here AS (INSERT INTO device_connections (tenant_id, device_id, node_id, connections)
    SELECT d.tenant_id, u.id, $3, u.connections FROM u JOIN devices d ON d.id = u.id WHERE u.connections > 0
    ON CONFLICT (device_id, node_id) DO UPDATE SET connections = EXCLUDED.connections),
  now_online AS (SELECT u.id, u.connections > 0 OR EXISTS (SELECT 1 FROM device_connections c WHERE c.device_id = u.id AND c.node_id <> $3) AS online FROM u),
  changed AS (UPDATE devices d SET online = n.online, last_seen_at = now() FROM now_online n WHERE d.id = n.id AND d.online IS DISTINCT FROM n.online RETURNING d.id, d.online),
  unchanged AS (UPDATE devices d SET last_seen_at = now() FROM now_online n WHERE d.id = n.id AND d.online IS NOT DISTINCT FROM n.online)
  SELECT id, online FROM changed`;
const STATE_UPSERT = `INSERT INTO device_state (tenant_id, device_id, state, updated_at)
  SELECT $1::uuid, u.id, u.state::jsonb, now() FROM unnest($2::uuid[], $3::text[]) AS u(id, state)
  ON CONFLICT (device_id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`;

/**
 * Presence, last-seen and current state, written in batches on a timer rather
 * than one UPDATE per packet: a device that connects, publishes a thousand
 * state updates and leaves costs one or two statements.
 *
 * A change stays pending until a write of it has committed: a flush that fails
 * (the database is down) puts back what it took, under whatever changed since
 * (the latest state of a device wins; presence is read from the connection
 * count when the write happens), and the next flush tries again. A device that
 * went offline during an outage reads offline once the database is back.
 *
 * Presence is this process's count of a device's connections, recorded under
 * its node id: a device is online while any node records one, so a device
 * that moved to another node (or holds connections on two) is not marked
 * offline by the node it left; a node that died is swept (node-presence.ts).
 *
 * Each write names its tenant by a TenantScope made from the connection's
 * TenantContext, and announces, once committed, `device.state.changed` for each
 * state stored and `device.presence.changed` for each device whose online flag
 * the write changed.
 */
export class DeviceStateWriter {
  private readonly presence = new Map<string, Presence>();
  private states = new Map<string, StateUpdate>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database, intervalMs: number, private readonly onError: (error: Error) => void, private readonly events?: EventBus,
    private readonly statesWritten?: StatesWritten,
    /** This process among the fleet's (node-presence.ts): its connections are recorded under it. */
    private readonly nodeId: string = randomUUID(),
  ) {
    this.timer = setInterval(() => this.flush().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Devices whose presence or state waits to be written. */
  get pending(): number {
    let dirty = this.states.size;
    for (const entry of this.presence.values()) if (entry.dirty || entry.seen) dirty++;
    return dirty;
  }

  connected(tenant: TenantScope, deviceId: string): void {
    const entry = this.presence.get(deviceId) ?? { tenant, connections: 0, dirty: false, seen: false };
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

  /** Every device connected here is recorded again at the next flush (this node had been swept as gone: node-presence.ts). */
  recordPresenceAgain(): void {
    for (const entry of this.presence.values()) if (entry.connections > 0) entry.dirty = true;
  }

  /** Activity moves last_seen_at at the next flush. */
  seen(deviceId: string): void {
    const entry = this.presence.get(deviceId);
    if (entry) entry.seen = true;
  }

  /** `state`: a JSON object (checked by the broker), stored as the device's current state. */
  state(tenant: TenantScope, deviceId: string, state: string): void {
    this.states.set(deviceId, { tenant, state });
  }

  /** Writes what changed; serialised, so two flushes never race. Rejects if a write failed (what it held is kept). */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.writeChanges()).catch((error: Error) => {
      this.onError(error);
      throw error;
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer and makes a last attempt; what still cannot be written was reported to `onError`. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
  }

  private async writeChanges(): Promise<void> {
    const failures = await Promise.allSettled([this.writePresence(), this.writeStates()]);
    const failed = failures.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async writePresence(): Promise<void> {
    const taken: [string, Presence, { dirty: boolean; seen: boolean }][] = [];
    const groups = new Map<string, [TenantScope, { ids: string[]; connections: number[] }]>();
    for (const [deviceId, entry] of this.presence) {
      if (!entry.dirty && !entry.seen) continue;
      const group = groupOf(groups, entry.tenant, () => ({ ids: [], connections: [] }));
      group.ids.push(deviceId);
      group.connections.push(entry.connections);
      taken.push([deviceId, entry, { dirty: entry.dirty, seen: entry.seen }]);
      entry.dirty = false;
      entry.seen = false;
    }
    if (groups.size === 0) return;
    try {
      await this.db.withEachTenant(groups.values(), async (tx, group, tenant) => {
        await tx.query(LOCK_DEVICES, [group.ids]);
        const { rows } = await tx.query<{ id: string; online: boolean }>(PRESENCE_UPDATE, [group.ids, group.connections, this.nodeId]);
        tx.afterCommit(() => {
          for (const row of rows) this.events?.emit('device.presence.changed', { tenantId: tenant.tenantId, deviceId: row.id, online: row.online });
        });
      });
    } catch (error) {
      for (const [, entry, flags] of taken) {
        entry.dirty ||= flags.dirty;
        entry.seen ||= flags.seen;
      }
      throw error;
    }
    for (const [deviceId, entry] of taken) {
      if (entry.connections === 0 && !entry.dirty && !entry.seen) this.presence.delete(deviceId);
    }
  }

  private async writeStates(): Promise<void> {
    if (this.states.size === 0) return;
    const taken = this.states;
    this.states = new Map();
    const groups = new Map<string, [TenantScope, { ids: string[]; values: string[] }]>();
    for (const [deviceId, update] of taken) {
      const group = groupOf(groups, update.tenant, () => ({ ids: [], values: [] }));
      group.ids.push(deviceId);
      group.values.push(update.state);
    }
    try {
      await this.db.withEachTenant(groups.values(), async (tx, group, tenant) => {
        await tx.query(STATE_UPSERT, [tenant.tenantId, group.ids, group.values]);
        if (this.statesWritten) await this.statesWritten(tx, tenant.tenantId, group.ids.map((deviceId, i) => ({ deviceId, state: JSON.parse(group.values[i]!) as unknown })));
        tx.afterCommit(() => {
          if (!this.events) return;
          group.ids.forEach((deviceId, i) =>
            this.events!.emit('device.state.changed', { tenantId: tenant.tenantId, deviceId, state: JSON.parse(group.values[i]!) as Record<string, unknown> }));
        });
      });
    } catch (error) {
      // A state that arrived meanwhile is newer than the one that failed.
      for (const [deviceId, update] of taken) if (!this.states.has(deviceId)) this.states.set(deviceId, update);
      throw error;
    }
  }
}

/** The group of a tenant's devices in one write, made on first use; keyed by tenant id, carrying the scope it is written under. */
function groupOf<G>(groups: Map<string, [TenantScope, G]>, tenant: TenantScope, make: () => G): G {
  let entry = groups.get(tenant.tenantId);
  if (!entry) groups.set(tenant.tenantId, (entry = [tenant, make()]));
  return entry[1];
}
