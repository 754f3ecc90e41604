import type { Database } from '../../db/database.js';
import type { EventBus } from '../event-bus.js';
import { LOCK_DEVICES } from './device-state-writer.js';

/**
 * This process among the gateway processes sharing the database: it says it
 * is alive (`heartbeat`), and any process removes the device connections of a
 * process that stopped saying so (killed, its machine gone) and marks the
 * devices that had no other connection offline (`sweep`), so a device's
 * presence is right within `staleMs` (FLEET_NODE_TTL_MS: a node not heard
 * from for that long is gone) plus one sweep interval, whoever held it. A process that stops cleanly records its devices' disconnections
 * itself (DeviceStateWriter) and leaves (`leave`).
 */
export class NodePresence {
  constructor(private readonly db: Database, readonly nodeId: string, private readonly events?: EventBus, private readonly staleMs = 15_000) {}

  private joined = false;

  /**
   * True when this node had been swept as gone (it could not reach the
   * database for longer than `staleMs`): what it recorded was removed, and
   * its connected devices must be recorded again.
   */
  async heartbeat(): Promise<boolean> {
    const [row] = await this.db.platformQuery<{ inserted: boolean }>(
      `INSERT INTO gateway_nodes (node_id) VALUES ($1) ON CONFLICT (node_id) DO UPDATE SET seen_at = now() RETURNING (xmax = 0) AS inserted`, [this.nodeId]);
    const swept = this.joined && row!.inserted;
    this.joined = true;
    return swept;
  }

  /**
   * Devices marked offline because every node that held them is gone. Driven
   * by gateway_nodes (a few rows), so a sweep that finds no silent node reads
   * nothing else; a node is in it before it serves (start) and again as soon
   * as it learns it was swept (heartbeat), so its connections are swept with it.
   * Two nodes sweeping at once: the second finds the silent rows gone.
   */
  async sweep(): Promise<number> {
    return this.db.withPlatform(async (tx) => {
      const gone = (await tx.query<{ node_id: string }>(
        `DELETE FROM gateway_nodes WHERE seen_at <= now() - $1::int * interval '1 millisecond' RETURNING node_id`, [this.staleMs])).rows.map((row) => row.node_id);
      if (gone.length === 0) return 0;
      const held = (await tx.query<{ device_id: string }>('SELECT DISTINCT device_id FROM device_connections WHERE node_id = ANY($1::text[])', [gone])).rows.map((row) => row.device_id);
      // In the order the writers lock them, then read afresh.
      await tx.query(LOCK_DEVICES, [held]);
      await tx.query('DELETE FROM device_connections WHERE node_id = ANY($1::text[])', [gone]);
      const { rows } = await tx.query<{ id: string; tenant_id: string }>(
        `UPDATE devices d SET online = false WHERE d.id = ANY($1::uuid[]) AND d.online AND NOT EXISTS (SELECT 1 FROM device_connections c WHERE c.device_id = d.id)
          RETURNING d.id, d.tenant_id`, [held]);
      tx.afterCommit(() => {
        for (const row of rows) this.events?.emit('device.presence.changed', { tenantId: row.tenant_id, deviceId: row.id, online: false });
      });
      return rows.length;
    });
  }

  async leave(): Promise<void> {
    await this.db.platformQuery('DELETE FROM gateway_nodes WHERE node_id = $1', [this.nodeId]);
  }
}
