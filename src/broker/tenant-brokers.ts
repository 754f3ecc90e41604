import { Aedes, type Client, type Subscription } from 'aedes';
import type { Duplex } from 'node:stream';
import type { CommandMessage } from '../core/event-bus.js';
import { commandTopic } from '../core/topics/device-topics.js';
import { filterCovers } from '../core/topics/topic-match.js';
import type { BrokerContext } from './broker-context.js';
import { authenticate, preConnect } from './hooks/connect.js';
import { createMessageEmitter } from './message-emitter.js';
import { authorizeForwardHook, authorizePublishHook } from './hooks/publish.js';
import { authorizeSubscribeHook } from './hooks/subscribe.js';
import { sessionOf, type MqttSession } from './session.js';
import { coalesceWrites } from './write-coalescing.js';
import { batchQos0Deliveries } from './qos0-delivery.js';
import { ReadScheduler } from './read-slicing.js';

const STATS_INTERVAL_MS = 10_000;
/**
 * Backlogged connections are read 8 KiB (~60 telemetry messages) at a time
 * and share 1 ms of each event-loop turn (read-slicing.ts). Measured with the
 * bench: overload quiet-tenant p99 120–187 → 59–104 ms, fan-in +20 %.
 */
const READ_SLICE_BYTES = 8_192;
const READ_BUDGET_MS = 1;

/**
 * One aedes instance per tenant, made on the tenant's first connection. Each
 * has its own clients, subscriptions, retained messages, wills, sessions and
 * $SYS topics, so nothing of one tenant is even addressable from another.
 */
export class TenantBrokers {
  private readonly brokers = new Map<string, Promise<Aedes>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly reads = new ReadScheduler(READ_SLICE_BYTES, READ_BUDGET_MS);

  constructor(private readonly context: BrokerContext, private readonly aedesOptions: { drainTimeout: number; concurrency: number; maxTopicLevels: number; idleMs: number }) {}

  handOff(session: MqttSession, stream: Duplex): void {
    this.brokerFor(session.ctx.tenantId).then(
      (broker) => {
        coalesceWrites(stream);
        const client = broker.handle(stream);
        batchQos0Deliveries(client);
        this.reads.slice(client);
      },
      (error: unknown) => {
        this.context.log.error({ err: error, tenantId: session.ctx.tenantId }, 'could not start the tenant broker');
        stream.destroy();
      },
    );
  }

  /** The tenant's broker if it runs (it does while any of its clients is connected or was). */
  running(tenantId: string): Promise<Aedes> | undefined {
    return this.brokers.get(tenantId);
  }

  async publishCommand(tenantId: string, deviceName: string, command: CommandMessage): Promise<void> {
    const broker = await this.running(tenantId);
    if (!broker) return; // no one connected: delivered when the device subscribes
    await new Promise<void>((resolve) =>
      broker.publish({ cmd: 'publish', topic: commandTopic(deviceName, command.id), payload: Buffer.from(JSON.stringify(command)), qos: 1, retain: false, dup: false }, () => resolve()),
    );
  }

  /** Closes every connection of a device (revoked or suspended). */
  async disconnectDevice(tenantId: string, deviceId: string): Promise<number> {
    const broker = await this.running(tenantId);
    if (!broker) return 0;
    const clients = Object.values((broker as unknown as { clients: Record<string, Client> }).clients).filter((client) => sessionOf(client)?.ctx.principal.id === deviceId);
    clients.forEach((client) => client.close());
    return clients.length;
  }

  async closeAll(): Promise<void> {
    this.timers.forEach(clearInterval);
    const brokers = await Promise.allSettled(this.brokers.values());
    await Promise.all(brokers.map((result) => (result.status === 'fulfilled' ? new Promise<void>((resolve) => result.value.close(() => resolve())) : undefined)));
    this.brokers.clear();
  }

  private brokerFor(tenantId: string): Promise<Aedes> {
    let broker = this.brokers.get(tenantId);
    if (!broker) {
      broker = this.create(tenantId);
      this.brokers.set(tenantId, broker);
      broker.catch(() => this.brokers.delete(tenantId));
    }
    return broker;
  }

  private async create(tenantId: string): Promise<Aedes> {
    const { context } = this;
    const broker = await Aedes.createBroker({
      ...this.aedesOptions,
      mq: createMessageEmitter(this.aedesOptions.concurrency),
      // Client ids are namespaced by credential (hooks/connect.ts), which makes them longer than MQTT 3.1's 23.
      maxClientsIdLength: 128,
      preConnect,
      authenticate,
      authorizePublish: authorizePublishHook(context),
      authorizeSubscribe: authorizeSubscribeHook(context),
      authorizeForward: authorizeForwardHook(context),
    });
    const log = context.log.child({ tenantId });
    broker.on('clientReady', (client) => {
      const session = sessionOf(client);
      if (session?.deviceName === undefined) return;
      context.deviceState.connected(tenantId, session.ctx.principal.id);
      // A restored persistent session is subscribed without a SUBSCRIBE: send what is outstanding now.
      if (Object.keys((client as unknown as { subscriptions: object }).subscriptions).length > 0) this.sendOutstanding(client, session);
    });
    broker.on('clientDisconnect', (client) => {
      const session = sessionOf(client);
      if (session?.deviceName !== undefined) context.deviceState.disconnected(session.ctx.principal.id);
    });
    broker.on('subscribe', (subscriptions: Subscription[], client: Client) => {
      const session = sessionOf(client);
      if (session?.deviceName === undefined) return;
      const own = commandTopic(session.deviceName, 'x');
      if (subscriptions.some((sub) => (sub.qos as number) !== 128 && filterCovers(sub.topic, own))) this.sendOutstanding(client, session);
    });
    broker.on('clientError', (client, error) => log.debug({ clientId: client?.id, err: error.message }, 'client error'));
    broker.on('connectionError', (_client, error) => log.debug({ err: error.message }, 'connection error'));

    // $SYS statistics of this tenant's broker, for its app credentials.
    const started = Date.now();
    const timer = setInterval(() => {
      const stats: Record<string, string> = {
        '$SYS/broker/clients/connected': String(broker.connectedClients),
        '$SYS/broker/uptime': String(Math.floor((Date.now() - started) / 1000)),
      };
      for (const [topic, value] of Object.entries(stats)) {
        broker.publish({ cmd: 'publish', topic, payload: Buffer.from(value), qos: 0, retain: true, dup: false }, () => undefined);
      }
    }, STATS_INTERVAL_MS);
    timer.unref();
    this.timers.push(timer);
    return broker;
  }

  /** Commands still pending or delivered, straight to this one connection (not to the device's others). */
  private sendOutstanding(client: Client, session: MqttSession): void {
    this.context.commands.outstandingFor(session.ctx).then(
      (commands) => {
        for (const command of commands) {
          client.publish({ cmd: 'publish', topic: commandTopic(session.deviceName!, command.id), payload: Buffer.from(JSON.stringify(command)), qos: 1, retain: false, dup: false }, () => undefined);
        }
      },
      (error: unknown) => this.context.log.error({ err: error }, 'could not load outstanding commands'),
    );
  }
}
