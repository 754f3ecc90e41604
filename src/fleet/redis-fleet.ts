import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { FLEET_EVENTS, type EventChannel, type EventName, type GatewayEvents } from '../core/event-bus.js';
import type { Logger } from '../logger.js';
import type { EmittedPacket, Fleet, FleetCounters, FleetHealth, MessageEmitter, ShareTurns } from './fleet.js';
import { decodeFrame, encodeFrame, NODE_ID_BYTES, sentBy } from './packet-frame.js';
import { RedisSeenOnce } from './seen-once.js';
import { defineShareCommands, RedisShareTurns } from './share-turns.js';
import { TenantEmitter, type TenantLink } from './tenant-emitter.js';

/** The channel of a tenant's messages: one exact channel, its id in a hash tag so that a tenant is one Redis Cluster slot. */
export function tenantChannel(tenantId: string): string {
  return `gh:{${tenantId}}:mq`;
}

/** The core's fleet-wide events (event-bus.ts FLEET_EVENTS), for every node. */
export const EVENTS_CHANNEL = 'gh:events';

/** Events kept while Redis is unreachable, sent when it is back: a revocation late is better than lost. */
const EVENT_BACKLOG = 10_000;

export type RedisFleetOptions = {
  url: string;
  log: Logger;
  /** How long start-up waits for Redis before serving degraded (local clients only) and reconnecting behind. */
  connectTimeoutMs?: number;
};

type Connection = { redis: Redis; name: 'publisher' | 'subscriber'; reason?: string };

/**
 * A node of a fleet over Redis, with two connections whatever the number of
 * tenants: one publishes (PUBLISH, pipelined), one is subscribed to the
 * channels of the tenants running here and to the events channel, and routes
 * each frame by its channel to that tenant's emitter.
 *
 * Redis pub/sub delivers at most once: a node that cannot reach Redis keeps
 * serving its own clients (each tenant's emitter delivers locally first),
 * drops what would have crossed, and says so (health(), the log). QoS 1
 * messages to persistent sessions survive that, because aedes queues them in
 * its persistence before it emits.
 *
 * aedes's own `$SYS/<broker id>/…` messages cross like any other message of
 * the tenant: `new/clients` is how the node a client left closes it when it
 * reconnects to another, and `heartbeat` is how a broker knows the others are
 * alive. aedes publishes the wills it finds in its persistence for any broker
 * it has not heard a heartbeat from in three intervals; with a persistence
 * shared by the nodes, keeping heartbeats local would have each node publish
 * the wills of every client connected to the others. They cost one PUBLISH per
 * running tenant instance per heartbeat interval (60 s), received only by the
 * nodes that run the same tenant (its channel is exact): a thousand tenants
 * running on a node is 17 frames a second. The per-node statistics every 10 s
 * do not cross (tenant-emitter.ts).
 */
export class RedisFleet implements Fleet {
  readonly nodeId = randomBytes(NODE_ID_BYTES);
  readonly events: EventChannel;
  private readonly counted: FleetCounters = { framesSent: 0, framesReceived: 0, framesDropped: 0, badFrames: 0, eventsSent: 0, eventsReceived: 0, eventsDropped: 0 };
  private readonly routes = new Map<string, Set<TenantEmitter>>();
  private readonly publisher: Connection;
  private readonly subscriber: Connection;
  private readonly link: TenantLink;
  private readonly log: Logger;
  private readonly nodeHex = this.nodeId.toString('hex');
  private deliverEvent: (<K extends EventName>(event: K, payload: GatewayEvents[K]) => void) | undefined;
  private backlog: string[] = [];
  private degradedSince: number | undefined;
  /** Until start() has waited for the first connection, it alone says how that went. */
  private started = false;
  private closing = false;

  private constructor(options: RedisFleetOptions) {
    this.log = options.log.child({ component: 'fleet', node: this.nodeHex });
    const common: RedisOptions = {
      // Reconnect for ever, at most every 2 s: the node serves its own clients meanwhile.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
      connectTimeout: options.connectTimeoutMs ?? 5_000,
    };
    // Publishes while Redis is away fail at once (dropped and counted) instead of piling up in memory.
    this.publisher = { name: 'publisher', redis: new Redis(options.url, { ...common, connectionName: `gatehouse:${this.nodeHex}:pub`, enableOfflineQueue: false, maxRetriesPerRequest: 0, enableAutoPipelining: true }) };
    // SUBSCRIBE and UNSUBSCRIBE wait for the connection; ioredis subscribes again to every channel after a reconnect.
    this.subscriber = { name: 'subscriber', redis: new Redis(options.url, { ...common, connectionName: `gatehouse:${this.nodeHex}:sub`, maxRetriesPerRequest: null }) };
    defineShareCommands(this.publisher.redis);
    for (const connection of [this.publisher, this.subscriber]) this.watch(connection);
    this.subscriber.redis.on('messageBuffer', (channel: Buffer, message: Buffer) => this.received(channel.toString(), message));
    this.subscriber.redis.subscribe(EVENTS_CHANNEL).catch(() => undefined);
    this.publisher.redis.on('ready', () => this.sendBacklog());
    this.link = {
      publish: (channel, packet) => this.publishFrame(channel, packet),
      detach: (emitter) => this.detach(emitter),
    };
    this.events = {
      carries: (event) => FLEET_EVENTS.has(event),
      send: (event, payload) => this.sendEvent(JSON.stringify({ n: this.nodeHex, e: event, p: payload })),
      receive: (deliver) => {
        this.deliverEvent = deliver;
      },
    };
  }

  /** Connects, waiting up to connectTimeoutMs for Redis; a node that cannot reach it starts degraded and keeps trying. */
  static async start(options: RedisFleetOptions): Promise<RedisFleet> {
    const fleet = new RedisFleet(options);
    const timeout = options.connectTimeoutMs ?? 5_000;
    const ready = (redis: Redis) => redis.status === 'ready' ? Promise.resolve(true) : new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeout);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    const connected = await Promise.all([ready(fleet.publisher.redis), ready(fleet.subscriber.redis)]);
    fleet.started = true;
    if (connected.every(Boolean)) {
      fleet.log.info('fleet connected to Redis');
    } else {
      fleet.degradedSince = Date.now();
      fleet.log.error({ reason: fleet.health().reason }, 'Redis is unreachable: starting degraded (serving this node\'s clients only) and reconnecting');
    }
    return fleet;
  }

  /**
   * The node's command connection, shared with the limits' counters
   * (src/fleet/limits): pipelined, and failing at once while Redis is away.
   */
  get commands(): Redis {
    return this.publisher.redis;
  }

  emitterFor(tenantId: string, local: MessageEmitter): MessageEmitter {
    const emitter = new TenantEmitter(tenantChannel(tenantId), local, this.link);
    let emitters = this.routes.get(emitter.channel);
    if (!emitters) {
      this.routes.set(emitter.channel, (emitters = new Set()));
      this.subscriber.redis.subscribe(emitter.channel).catch(() => undefined);
    }
    emitters.add(emitter);
    return emitter;
  }

  async publish(tenantId: string, packet: EmittedPacket): Promise<void> {
    await this.publishFrame(tenantChannel(tenantId), packet);
  }

  shareTurns(tenantId: string): ShareTurns {
    return new RedisShareTurns(this.publisher.redis, `gh:{${tenantId}}:share:`, this.nodeHex);
  }

  seenOnce(kind: string): RedisSeenOnce {
    return new RedisSeenOnce(this.publisher.redis, `gh:seen:${kind}:`);
  }

  health(): FleetHealth {
    const down = [this.publisher, this.subscriber].filter((connection) => connection.redis.status !== 'ready');
    if (down.length === 0) return { mode: 'redis', degraded: false };
    const reason = down.map((connection) => `${connection.name}: ${connection.reason ?? connection.redis.status}`).join('; ');
    return { mode: 'redis', degraded: true, reason };
  }

  counters(): FleetCounters {
    return { ...this.counted };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([this.publisher, this.subscriber].map(async ({ redis }) => {
      if (redis.status !== 'ready') return redis.disconnect();
      await Promise.race([redis.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      redis.disconnect();
    }));
  }

  private async publishFrame(channel: string, packet: EmittedPacket): Promise<void> {
    if (this.publisher.redis.status !== 'ready') {
      this.counted.framesDropped++;
      return;
    }
    try {
      await this.publisher.redis.publish(channel, encodeFrame(this.nodeId, packet));
      this.counted.framesSent++;
    } catch {
      this.counted.framesDropped++;
    }
  }

  private detach(emitter: TenantEmitter): void {
    const emitters = this.routes.get(emitter.channel);
    if (!emitters?.delete(emitter) || emitters.size > 0) return;
    this.routes.delete(emitter.channel);
    if (!this.closing) this.subscriber.redis.unsubscribe(emitter.channel).catch(() => undefined);
  }

  private received(channel: string, message: Buffer): void {
    if (channel === EVENTS_CHANNEL) return this.receivedEvent(message);
    const emitters = this.routes.get(channel);
    if (!emitters || sentBy(message, this.nodeId)) return;
    let packet: EmittedPacket;
    try {
      packet = decodeFrame(message);
    } catch (error) {
      this.counted.badFrames++;
      this.log.warn({ err: error, channel }, 'a frame from another node could not be read; dropped');
      return;
    }
    this.counted.framesReceived++;
    for (const emitter of emitters) emitter.deliver(packet);
  }

  private sendEvent(message: string): void {
    if (this.publisher.redis.status !== 'ready') {
      if (this.backlog.length < EVENT_BACKLOG) this.backlog.push(message);
      else this.counted.eventsDropped++;
      return;
    }
    this.publisher.redis.publish(EVENTS_CHANNEL, message).then(
      () => this.counted.eventsSent++,
      () => {
        if (this.backlog.length < EVENT_BACKLOG) this.backlog.push(message);
        else this.counted.eventsDropped++;
      },
    );
  }

  private sendBacklog(): void {
    const waiting = this.backlog;
    this.backlog = [];
    for (const message of waiting) this.sendEvent(message);
  }

  private receivedEvent(message: Buffer): void {
    let event: { n: string; e: EventName; p: GatewayEvents[EventName] };
    try {
      event = JSON.parse(message.toString()) as typeof event;
    } catch (error) {
      this.log.warn({ err: error }, 'an event from another node could not be read; dropped');
      return;
    }
    if (event.n === this.nodeHex) return;
    this.counted.eventsReceived++;
    this.deliverEvent?.(event.e, event.p);
  }

  /** Logs when Redis goes and comes back (not every retry), and keeps why for health(). */
  private watch(connection: Connection): void {
    connection.redis.on('error', (error: Error) => {
      connection.reason = error.message;
    });
    connection.redis.on('close', () => {
      if (!this.started || this.closing || this.degradedSince !== undefined) return;
      this.degradedSince = Date.now();
      this.log.error({ connection: connection.name, reason: connection.reason }, 'Redis connection lost: the fleet is degraded; this node serves its own clients and nothing crosses to the other nodes until it is back');
    });
    connection.redis.on('ready', () => {
      connection.reason = undefined;
      if (!this.started || this.degradedSince === undefined || this.health().degraded) return;
      this.log.info({ degradedMs: Date.now() - this.degradedSince }, 'Redis reachable again: the fleet is whole');
      this.degradedSince = undefined;
    });
  }
}
