import type { Aedes, Client } from 'aedes';
import type { Duplex } from 'node:stream';
import type { CommandMessage } from '../core/event-bus.js';
import { commandTopic } from '../core/topics/device-topics.js';
import type { BrokerContext } from './broker-context.js';
import { batchQos0Deliveries } from './aedes-tuning/qos0-delivery.js';
import { resumedSessionOrder } from './aedes-tuning/resumed-session-order.js';
import { ReadScheduler } from './aedes-tuning/read-slicing.js';
import { sessionOf, type MqttSession } from './session.js';
import { closeTenantInstance, startTenantInstance, type InstanceOptions } from './tenant-instance.js';
import { MemoryTenantStores, type InstanceStore, type TenantStores } from './tenant-store.js';
import { coalesceWrites } from '../write-coalescing.js';

/**
 * Backlogged connections are read 8 KiB (~60 telemetry messages) at a time
 * and share 1 ms of each event-loop turn (aedes-tuning/read-slicing.ts). Measured with the
 * bench: overload quiet-tenant p99 120–187 → 59–104 ms, fan-in +20 %.
 */
const READ_SLICE_BYTES = 8_192;
const READ_BUDGET_MS = 1;

/** A tenant whose instance is running or starting, with the connections handed to it. */
type Running = { broker: Promise<Aedes>; connections: number; idle?: NodeJS.Timeout };

/**
 * One aedes instance per tenant (tenant-instance.ts), started by the tenant's
 * first connection and released `idleMs` after its last one left: an idle
 * tenant keeps no instance, timer or listener. What a tenant's clients must
 * find again (persistent sessions, queued messages, retained messages) lives
 * in its store (tenant-store.ts), which outlives the instances: a TenantStore
 * dropped once empty, or Redis when the node is one of a fleet.
 */
export class TenantBrokers {
  private readonly tenants = new Map<string, Running>();
  /** Closes in progress: a tenant's next instance starts after its last one has closed. */
  private readonly releasing = new Map<string, Promise<void>>();
  /** The store each running instance was started on. */
  private readonly storeOf = new WeakMap<Aedes, InstanceStore>();
  private readonly reads = new ReadScheduler(READ_SLICE_BYTES, READ_BUDGET_MS);
  private readonly idleMs: number;
  private readonly instanceOptions: InstanceOptions;
  private instances = 0;
  private closed = false;

  constructor(private readonly context: BrokerContext, options: InstanceOptions & { idleMs: number }, private readonly stores: TenantStores = new MemoryTenantStores()) {
    const { idleMs, ...instanceOptions } = options;
    this.idleMs = idleMs;
    this.instanceOptions = instanceOptions;
  }

  /** aedes instances alive (running, starting or closing). */
  get tenantsRunning(): number {
    return this.instances;
  }

  /** Tenants whose store holds state while they may have no instance. */
  get tenantsWithState(): number {
    return this.stores.withState;
  }

  handOff(session: MqttSession, stream: Duplex): void {
    const { tenantId } = session.ctx;
    if (this.closed || stream.destroyed) {
      stream.destroy();
      return;
    }
    const tenant = this.tenantFor(tenantId);
    tenant.connections++;
    clearTimeout(tenant.idle);
    tenant.idle = undefined;
    stream.once('close', () => this.left(tenantId, tenant));
    tenant.broker.then(
      (broker) => {
        if (stream.destroyed) return;
        coalesceWrites(stream);
        const client = broker.handle(stream);
        batchQos0Deliveries(client);
        resumedSessionOrder(client);
        this.reads.slice(client);
      },
      (error: unknown) => {
        this.context.log.error({ err: error, tenantId }, 'could not start the tenant broker');
        stream.destroy();
      },
    );
  }

  /** The tenant's broker if it runs (it does while any of its clients is connected, and for idleMs after). */
  running(tenantId: string): Promise<Aedes> | undefined {
    return this.tenants.get(tenantId)?.broker;
  }

  /**
   * A command, published once for the fleet from the node it was issued on:
   * through the tenant's broker when it runs here, else straight onto the
   * tenant's channel for the node the device may be connected to (on a single
   * node: no broker, no one connected). A device that is not connected gets
   * it when it subscribes (sendOutstanding).
   */
  async publishCommand(tenantId: string, deviceName: string, command: CommandMessage): Promise<void> {
    const broker = await this.running(tenantId);
    if (!broker) return this.context.fleet.publish(tenantId, commandPacket(deviceName, command));
    await new Promise<void>((resolve) => broker.publish(commandPacket(deviceName, command), () => resolve()));
  }

  /** Closes every connection of a device (revoked or suspended). */
  async disconnectDevice(tenantId: string, deviceId: string): Promise<number> {
    const broker = await this.running(tenantId);
    if (!broker) return 0;
    const clients = Object.values((broker as unknown as { clients: Record<string, Client> }).clients).filter((client) => sessionOf(client)?.ctx.principal.id === deviceId);
    clients.forEach((client) => client.close());
    return clients.length;
  }

  /**
   * Closes a tenant's connections of one principal (an app credential, or a
   * person on WebSocket), as disconnectDevice does for devices. Principal ids
   * are UUIDs, so an app's id never names a person or a device.
   */
  async disconnectPrincipal(tenantId: string, kind: 'app' | 'user', principalId: string): Promise<number> {
    const broker = await this.running(tenantId);
    if (!broker) return 0;
    const kinds = kind === 'user' ? ['user', 'voice'] : ['app'];
    const clients = Object.values((broker as unknown as { clients: Record<string, Client> }).clients).filter((client) => {
      const principal = sessionOf(client)?.ctx.principal;
      return principal !== undefined && principal.id === principalId && kinds.includes(principal.kind);
    });
    clients.forEach((client) => client.close());
    return clients.length;
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const closing = [...this.tenants.values()].map((tenant) => {
      clearTimeout(tenant.idle);
      return tenant.broker.then((broker) => this.close(broker), () => undefined);
    });
    this.tenants.clear();
    await Promise.all([...closing, ...this.releasing.values()]);
    this.stores.clear();
  }

  private tenantFor(tenantId: string): Running {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) {
      const previous = this.releasing.get(tenantId) ?? Promise.resolve();
      const broker = previous.then(() => this.start(tenantId));
      const started: Running = { broker, connections: 0 };
      tenant = started;
      this.tenants.set(tenantId, started);
      broker.catch(() => this.tenants.get(tenantId) === started && this.tenants.delete(tenantId));
    }
    return tenant;
  }

  private async start(tenantId: string): Promise<Aedes> {
    const { store, unused } = this.stores.forInstance(tenantId);
    try {
      const broker = await startTenantInstance(this.context, tenantId, this.instanceOptions, store);
      this.storeOf.set(broker, store);
      this.instances++;
      return broker;
    } catch (error) {
      unused();
      throw error;
    }
  }

  private left(tenantId: string, tenant: Running): void {
    if (--tenant.connections > 0 || this.tenants.get(tenantId) !== tenant) return;
    tenant.idle = setTimeout(() => this.release(tenantId, tenant), this.idleMs).unref();
  }

  /** Closes an idle tenant's instance, then keeps its store only if something is in it. */
  private release(tenantId: string, tenant: Running): void {
    if (tenant.connections > 0 || this.tenants.get(tenantId) !== tenant) return;
    this.tenants.delete(tenantId);
    const released = tenant.broker
      .then(async (broker) => {
        await this.close(broker);
        const store = this.storeOf.get(broker);
        // A connection that arrived meanwhile waits for this: it finds the store as it is decided here.
        if (store) await this.stores.released(tenantId, store);
      }, () => undefined)
      .catch((error: unknown) => this.context.log.error({ err: error, tenantId }, 'releasing the tenant broker failed'))
      .finally(() => this.releasing.get(tenantId) === released && this.releasing.delete(tenantId));
    this.releasing.set(tenantId, released);
  }

  private async close(broker: Aedes): Promise<void> {
    await closeTenantInstance(broker);
    this.instances--;
  }
}

function commandPacket(deviceName: string, command: CommandMessage) {
  return { cmd: 'publish' as const, topic: commandTopic(deviceName, command.id), payload: Buffer.from(JSON.stringify(command)), qos: 1 as const, retain: false, dup: false };
}
