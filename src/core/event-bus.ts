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
 * The bus the core announces on. In one process it is `LocalEventBus`; the
 * scale-out work will put a Redis-backed implementation behind this same
 * interface, so that a listener on one node hears what happened on another.
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

  constructor(private readonly onListenerError: (event: EventName, error: unknown) => void = () => undefined) {}

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
  }
}
