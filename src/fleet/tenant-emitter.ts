import type { EmittedPacket, MessageEmitter, PacketListener } from './fleet.js';

/** What a tenant's emitter needs of its node's Redis link (redis-fleet.ts). */
export type TenantLink = {
  /** Sends the packet to the other nodes on the tenant's channel; settles when Redis took it, or at once when it cannot. */
  publish(channel: string, packet: EmittedPacket): Promise<void>;
  /** The emitter is closed: stop routing the channel's frames to it. */
  detach(emitter: TenantEmitter): void;
};

/**
 * `$SYS/broker/…` are the statistics of one node's instance of the tenant
 * (tenant-stats.ts: clients connected here, this instance's uptime), published
 * every 10 s by every node: they stay on their node, where a subscriber reads
 * the broker it is connected to. aedes's own `$SYS/<broker id>/…` cross
 * (redis-fleet.ts says why).
 */
const NODE_STATISTICS = '$SYS/broker/';

/**
 * A tenant's emitter on a node of a fleet: the broker's own local emitter,
 * which delivers to this node's subscribers at once, plus the tenant's one
 * Redis channel, on which the same packet goes to the tenant's other nodes and
 * from which their packets come (`deliver`). Subscriptions stay local (the
 * channel carries everything of the tenant, and each node matches it against
 * its own subscribers): no pattern subscription in Redis, and no topic of one
 * tenant ever meets another's.
 */
export class TenantEmitter implements MessageEmitter {
  constructor(readonly channel: string, private readonly local: MessageEmitter, private readonly link: TenantLink) {}

  get closed(): boolean {
    return this.local.closed;
  }

  on(topic: string, listener: PacketListener, done?: () => void): this {
    this.local.on(topic, listener, done);
    return this;
  }

  removeListener(topic: string, listener: PacketListener, done?: () => void): this {
    this.local.removeListener(topic, listener, done);
    return this;
  }

  /**
   * Here and on the other nodes; `done` once both have taken it, so a
   * publisher that outruns Redis is held back as it is by slow local subscribers.
   */
  emit(packet: EmittedPacket, done?: (error?: Error) => void): this {
    if (this.local.closed || packet.topic.startsWith(NODE_STATISTICS)) {
      this.local.emit(packet, done);
      return this;
    }
    let pending = 2;
    let failure: Error | undefined;
    const settle = (error?: Error) => {
      failure ??= error;
      if (--pending === 0) done?.(failure);
    };
    this.local.emit(packet, settle);
    this.link.publish(this.channel, packet).then(() => settle(), () => settle());
    return this;
  }

  /** A packet another node emitted for this tenant. */
  deliver(packet: EmittedPacket): void {
    if (!this.local.closed) this.local.emit(packet);
  }

  close(done: () => void): this {
    this.link.detach(this);
    this.local.close(done);
    return this;
  }
}
