import type { EventChannel } from '../core/event-bus.js';
import type { EmittedPacket } from './packet-frame.js';
import type { SeenOnce } from './seen-once.js';

export type { EmittedPacket };

type Done = () => void;
/** A subscriber of an emitter: called with each matching packet, calls `done` when it has taken it. */
export type PacketListener = (packet: EmittedPacket, done: Done) => void;

/**
 * What aedes asks of its `mq` option, which is mqemitter's interface: the
 * broker's own emitter (src/broker/aedes-tuning/message-emitter.ts) has it, and so has the
 * fleet's wrapper around it.
 */
export type MessageEmitter = {
  on(topic: string, listener: PacketListener, done?: Done): unknown;
  removeListener(topic: string, listener: PacketListener, done?: Done): unknown;
  emit(packet: EmittedPacket, done?: (error?: Error) => void): unknown;
  close(done: Done): unknown;
  readonly closed: boolean;
};

/**
 * Which node's members of a tenant's shared subscription group
 * (`$share/<group>/<filter>`, src/broker/shared-subscriptions.ts) take each
 * message, so that one member fleet-wide does. Every node with members of the
 * group is asked about the same message, and all get the same answer.
 */
export interface ShareTurns {
  /** This node now has `count` members of the group (0: none left). */
  members(group: string, count: number): void;
  /** Whether this node's members take the packet: always on a single node. */
  mine(group: string, packet: EmittedPacket): boolean | Promise<boolean>;
  /** The tenant's broker closed here. */
  close(): void;
}

/** What crossed between this node and the others since it started (Redis only), for /metrics. */
export type FleetCounters = {
  /** Packet frames sent on a tenant's channel, received from other nodes, dropped because Redis was unreachable, unreadable. */
  framesSent: number; framesReceived: number; framesDropped: number; badFrames: number;
  /** Fleet-wide events sent (including those kept while Redis was away and sent later), received, and dropped (the backlog was full). */
  eventsSent: number; eventsReceived: number; eventsDropped: number;
};

export type FleetHealth = {
  /** `single`: no REDIS_URL, this node is the whole gateway; `redis`: nodes share through Redis. */
  mode: 'single' | 'redis';
  /** Redis cannot be reached: this node serves its own clients, and nothing crosses to the other nodes. */
  degraded: boolean;
  /** Why, when degraded. */
  reason?: string;
};

/**
 * Everything a node shares with the other nodes of its fleet, behind one seam.
 * The composition root makes one per process (create-fleet.ts): in memory
 * without REDIS_URL, where there is no other node and each member is today's
 * single-process code path untouched; over Redis with it, with a fixed number
 * of connections per node whatever the number of tenants.
 *
 * More members come as the scale-out work goes on (broker persistence, replay
 * caches, limit counters); each keeps a tenant's data under that tenant's name.
 */
export interface Fleet {
  /**
   * The emitter a tenant's aedes routes with (its `mq` option), made from the
   * broker's own local emitter: what the tenant's broker emits here reaches the
   * tenant's subscribers on every node, and nothing of another tenant ever
   * reaches it. aedes closes it with the instance.
   */
  emitterFor(tenantId: string, local: MessageEmitter): MessageEmitter;
  /**
   * A message to a tenant's subscribers on the other nodes, from a node where
   * the tenant has no broker running (a command issued here for a device
   * connected elsewhere). In memory there is no other node: nothing to do.
   */
  publish(tenantId: string, packet: EmittedPacket): Promise<void>;
  /** The turns of a tenant's shared subscription groups (one per tenant broker, closed with it). */
  shareTurns(tenantId: string): ShareTurns;
  /** The ids of one kind (`alexa-request`, `alexa-directive`) admitted once, fleet-wide, until they expire. */
  seenOnce(kind: string): SeenOnce;
  /** How the core's fleet-wide events (event-bus.ts FLEET_EVENTS) reach the other nodes; none on a single node. */
  readonly events: EventChannel | undefined;
  health(): FleetHealth;
  /** What crossed to and from the other nodes; none on a single node. */
  counters(): FleetCounters | undefined;
  /** Closes the connections; the tenants' emitters are closed by their brokers first. */
  close(): Promise<void>;
}
