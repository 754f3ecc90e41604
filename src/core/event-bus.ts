import { EventEmitter } from 'node:events';

export type CommandMessage = { id: string; name: string; params: Record<string, unknown>; issuedAt: string; expiresAt: string };

export type CommandStatus = 'awaiting_approval' | 'pending' | 'delivered' | 'succeeded' | 'failed' | 'expired' | 'denied';

/**
 * What the core announces, each payload carrying its tenant. Every event is
 * emitted after the commit of what it announces (`Tx.afterCommit`), so a
 * listener that reads the row finds it. Adapters listen (zigbee2mqtt's
 * EventBus); the core never imports them.
 */
export type GatewayEvents = {
  /** A command was persisted and should reach the device now if it is connected. */
  'command.issued': { tenantId: string; deviceName: string; command: CommandMessage };
  /** A command moved on (awaiting_approval, pending, delivered, succeeded, failed, expired, denied). */
  'command.status.changed': { tenantId: string; commandId: string; deviceId: string; status: CommandStatus };
  /** A command waits for a person's approval (push delivers the request to phones). */
  'approval.requested': { tenantId: string; commandId: string; deviceId: string; requestedBy: { kind: string; id: string } };
  /** A device may no longer connect (suspended, revoked, secret changed): drop its live connections. */
  'device.access.revoked': { tenantId: string; deviceId: string };
  /** An app credential may no longer connect with what it holds (deleted, secret rotated): drop its live connections. */
  'app.access.revoked': { tenantId: string; appId: string };
  /**
   * A member's role changed, or their membership ended (role null). Live HTTP
   * sessions read the role live; a person's MQTT connection computed its ACL at
   * CONNECT, so the broker drops it and the reconnect gets the new one.
   */
  'member.access.changed': { tenantId: string; userId: string; role: string | null };
  /** Voice platforms must be told: a device appeared, changed what they should know, or went. */
  'device.registered': { tenantId: string; deviceId: string; deviceName: string };
  'device.updated': { tenantId: string; deviceId: string; deviceName: string };
  'device.removed': { tenantId: string; deviceId: string; deviceName: string };
  /** A device's reported state, as stored. */
  'device.state.changed': { tenantId: string; deviceId: string; state: Record<string, unknown> };
  /** A device came online or went offline, as stored. */
  'device.presence.changed': { tenantId: string; deviceId: string; online: boolean };
  /** A device event (alarm, button, low battery) was stored. */
  'device.event': { tenantId: string; deviceId: string; eventId: string; kind: string; payload: unknown };
  /** A voice PIN was locked after too many failures. */
  'pin.locked': { tenantId: string; userId: string; until: string };
  /** A security event was written to the audit log (tenantId null for platform events). */
  'security.event': { tenantId: string | null; type: string; details: Record<string, unknown> };
  /** Notifications were committed with deliveries to send: the push workers wake. */
  'notification.queued': { tenantId: string; deliveries: number };
};

export type EventName = keyof GatewayEvents;
export type Listener<K extends EventName> = (payload: GatewayEvents[K]) => void;

/**
 * The events every node of a fleet hears, wherever they happened: their
 * listeners act on what their own node holds, which another node cannot reach
 * (its connections, its command waiters, its caches). A revoked device is
 * dropped by each node it is connected to; a command's result, stored by the
 * node its device is connected to, wakes the waiter on the node that issued it.
 *
 * The others are heard only on the node they happened on, which is the one to
 * act on them once for the fleet (a state report to Google or Amazon, a push).
 * `command.issued` is one of those: its MQTT publish reaches the device on
 * whichever node holds it through the tenant's channel, once, like any other
 * message of the tenant; heard on every node it would be published once per node.
 */
export const FLEET_EVENTS: ReadonlySet<EventName> = new Set<EventName>([
  'command.status.changed',
  'device.access.revoked',
  'app.access.revoked',
  'member.access.changed',
]);

/**
 * How fleet-wide events reach the other nodes (src/fleet): at most once, in
 * order from each node. A node's own events never come back to it.
 */
export interface EventChannel {
  /** Whether `event` leaves this process: FLEET_EVENTS between nodes; every event from a one-off command to the nodes. */
  carries(event: EventName): boolean;
  send<K extends EventName>(event: K, payload: GatewayEvents[K]): void;
  /** Registers who hears the other nodes' events (one receiver per channel). */
  receive(deliver: <K extends EventName>(event: K, payload: GatewayEvents[K]) => void): void;
}

/**
 * The bus the core announces on. On a single node it is `LocalEventBus` alone;
 * in a fleet the same bus is given the fleet's `EventChannel`, so that a
 * listener on one node hears what happened on another (FLEET_EVENTS).
 */
export interface EventBus {
  /** `owner`: whoever registers (an adapter); `removeOwner(owner)` removes all of its listeners at once. */
  on<K extends EventName>(event: K, listener: Listener<K>, owner?: object): () => void;
  removeOwner(owner: object): void;
  emit<K extends EventName>(event: K, payload: GatewayEvents[K]): void;
}

export class LocalEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(100);
  private readonly byOwner = new Map<object, (() => void)[]>();

  /** `channel`: the fleet's (several nodes); without one, nothing leaves or enters this process. */
  constructor(private readonly onListenerError: (event: EventName, error: unknown) => void = () => undefined, private readonly channel?: EventChannel) {
    channel?.receive((event, payload) => this.emitter.emit(event, payload));
  }

  on<K extends EventName>(event: K, listener: Listener<K>, owner?: object): () => void {
    // A listener's failure is its own: it must not keep the others, or the emitting core code, from going on.
    const guarded = (payload: GatewayEvents[K]) => {
      try {
        listener(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    };
    this.emitter.on(event, guarded);
    const off = () => void this.emitter.off(event, guarded);
    if (owner) this.byOwner.set(owner, [...(this.byOwner.get(owner) ?? []), off]);
    return off;
  }

  removeOwner(owner: object): void {
    this.byOwner.get(owner)?.forEach((off) => off());
    this.byOwner.delete(owner);
  }

  emit<K extends EventName>(event: K, payload: GatewayEvents[K]): void {
    this.emitter.emit(event, payload);
    if (this.channel?.carries(event)) this.channel.send(event, payload);
  }
}
