import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { FLEET_EVENTS, type EventChannel, type EventName, type GatewayEvents } from '../core/event-bus.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { SeenOnce } from './seen-once.js';

/**
 * How a one-off command (`gatehouse scene activate`, `device create`: another
 * process) reaches the running nodes: its core's events go out with Postgres
 * NOTIFY, which every node hears whether or not there is Redis, since every
 * node and the command line share the database.
 */
export const NOTICES_CHANNEL = 'gatehouse_operator_events';

type Notice = { id: string; e: EventName; p: GatewayEvents[EventName] };
type Deliver = <K extends EventName>(event: K, payload: GatewayEvents[K]) => void;

/** The one-off process's side: every event its core emits is sent; `flush` waits for them before the process ends. */
export class NoticeSender implements EventChannel {
  private readonly sending = new Set<Promise<void>>();
  constructor(private readonly db: Database, private readonly log: Logger) {}

  carries(): boolean {
    return true;
  }

  send<K extends EventName>(event: K, payload: GatewayEvents[K]): void {
    const notice: Notice = { id: randomUUID(), e: event, p: payload };
    const sent = this.db.platformQuery('SELECT pg_notify($1, $2)', [NOTICES_CHANNEL, JSON.stringify(notice)]).then(
      () => undefined,
      (error: unknown) => this.log.warn({ err: error, event }, 'the running gateway could not be told of an event; it acts on it at the next connection or poll'),
    );
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  /** A one-off process hears no other's events. */
  receive(): void {}

  async flush(): Promise<void> {
    while (this.sending.size > 0) await Promise.all(this.sending);
  }
}

/**
 * A node's side: one LISTEN connection of its own. Fleet-wide events (a
 * revocation) are acted on by every node, as they are from another node; the
 * others (a command issued, a device registered) by one node for the fleet,
 * the first to admit the notice's id (Fleet.seenOnce: on a single node, the node).
 */
export class NoticeListener {
  private client: pg.Client | undefined;
  private deliver: Deliver | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(private readonly connectionString: string, private readonly once: SeenOnce, private readonly log: Logger) {}

  /** Registers who acts on the notices (the core's bus, as from another node). */
  receive(deliver: Deliver): void {
    this.deliver = deliver;
  }

  /** Listens, and listens again after a lost connection (every 2 s): notices sent meanwhile are missed, as the command line's docs say. */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    client.on('error', () => undefined);
    client.on('notification', (message) => void this.heard(message.payload));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTICES_CHANNEL}`);
      this.client = client;
      if (this.failing) this.log.info('listening again for the command line\'s events');
      this.failing = false;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (!this.failing) this.log.error({ err: error }, 'cannot listen for the command line\'s events; retrying every 2 s');
      this.failing = true;
      this.later();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.log.error('the connection listening for the command line\'s events ended; listening again');
    this.failing = true;
    this.later();
  }

  private later(): void {
    if (!this.closed) this.retry = setTimeout(() => void this.start(), 2_000).unref();
  }

  private async heard(payload: string | undefined): Promise<void> {
    let notice: Notice;
    try {
      notice = JSON.parse(payload ?? '') as Notice;
    } catch (error) {
      this.log.warn({ err: error }, 'a notice from the command line could not be read; dropped');
      return;
    }
    const now = Date.now();
    if (FLEET_EVENTS.has(notice.e) || await this.once.admit(notice.id, now, now + 60_000)) this.deliver?.(notice.e, notice.p);
  }
}

/** The core's channel on a node: the fleet's (if any) both ways, and the command line's notices in. */
export function withNotices(fleet: EventChannel | undefined, notices: NoticeListener): EventChannel {
  return {
    carries: (event) => fleet?.carries(event) ?? false,
    send: (event, payload) => fleet?.send(event, payload),
    receive: (deliver) => {
      fleet?.receive(deliver);
      notices.receive(deliver);
    },
  };
}
