import { EventEmitter } from 'node:events';

export type CommandMessage = { id: string; name: string; params: Record<string, unknown>; issuedAt: string; expiresAt: string };

/** What the core announces; adapters listen (zigbee2mqtt's EventBus), so the core never imports them. */
export type GatewayEvents = {
  /** A command was persisted and should reach the device now if it is connected. */
  'command.issued': { tenantId: string; deviceName: string; command: CommandMessage };
  /** A device may no longer connect (suspended, revoked, secret changed): drop its live connections. */
  'device.access.revoked': { tenantId: string; deviceId: string };
};

export class EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(100);

  on<K extends keyof GatewayEvents>(event: K, listener: (payload: GatewayEvents[K]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  emit<K extends keyof GatewayEvents>(event: K, payload: GatewayEvents[K]): void {
    this.emitter.emit(event, payload);
  }
}
