import { Aedes, type Client, type Subscription } from 'aedes';
import { commandTopic } from '../core/topics/device-topics.js';
import { filterCovers } from '../core/topics/topic-match.js';
import { tenantScope } from '../db/tenant-scope.js';
import type { BrokerContext } from './broker-context.js';
import { authenticate, lockingPreConnect, preConnect } from './hooks/connect.js';
import { authorizeForwardHook, authorizePublishHook } from './hooks/publish.js';
import { authorizeSubscribeHook } from './hooks/subscribe.js';
import { createMessageEmitter } from './aedes-tuning/message-emitter.js';
import { notingQueuedDeliveries } from './aedes-tuning/resumed-session-order.js';
import { sessionOf, type MqttSession } from './session.js';
import { SharedSubscriptions } from './shared-subscriptions.js';
import { publishStatistics } from './tenant-stats.js';
import type { InstanceStore } from './tenant-store.js';

export type InstanceOptions = { drainTimeout: number; concurrency: number; maxTopicLevels: number };

/**
 * One tenant's aedes instance: its own clients, subscriptions, wills and $SYS
 * topics, over the tenant's store (which outlives it), so nothing of one
 * tenant is even addressable from another. With a fleet (src/fleet), the
 * store is in Redis and a client id connects once fleet-wide (context.clientLocks).
 */
export async function startTenantInstance(context: BrokerContext, tenantId: string, options: InstanceOptions, store: InstanceStore): Promise<Aedes> {
  const broker = await Aedes.createBroker({
    ...options,
    persistence: store,
    mq: new SharedSubscriptions(context.fleet.emitterFor(tenantId, createMessageEmitter(options.concurrency)), context.fleet.shareTurns(tenantId)),
    // Client ids are namespaced by credential (hooks/connect.ts), which makes them longer than MQTT 3.1's 23.
    maxClientsIdLength: 128,
    preConnect: context.clientLocks ? lockingPreConnect(context.clientLocks, tenantId) : preConnect,
    authenticate,
    authorizePublish: authorizePublishHook(context),
    authorizeSubscribe: authorizeSubscribeHook(context),
    authorizeForward: notingQueuedDeliveries(authorizeForwardHook(context)),
  });
  const log = context.log.child({ tenantId });
  broker.on('clientReady', (client) => {
    const session = sessionOf(client);
    if (session?.deviceName === undefined) return;
    context.deviceState.connected(tenantScope(session.ctx), session.ctx.principal.id);
    // A restored persistent session is subscribed without a SUBSCRIBE: send what is outstanding now.
    if (Object.keys((client as unknown as { subscriptions: object }).subscriptions).length > 0) sendOutstanding(context, client, session);
  });
  broker.on('clientDisconnect', (client) => {
    const session = sessionOf(client);
    if (session?.deviceName !== undefined) context.deviceState.disconnected(session.ctx.principal.id);
  });
  broker.on('subscribe', (subscriptions: Subscription[], client: Client) => {
    const session = sessionOf(client);
    if (session?.deviceName === undefined) return;
    const own = commandTopic(session.deviceName, 'x');
    if (subscriptions.some((sub) => (sub.qos as number) !== 128 && filterCovers(sub.topic, own))) sendOutstanding(context, client, session);
  });
  broker.on('clientError', (client, error) => log.debug({ clientId: client?.id, err: error.message }, 'client error'));
  broker.on('connectionError', (_client, error) => log.debug({ err: error.message }, 'connection error'));
  publishStatistics(broker);
  return broker;
}

/**
 * Ends an instance: aedes's close() closes its clients (publishing their wills,
 * as for any unclean end), stops its heartbeat and will timers and closes its
 * emitter; it leaves the store alone. The listeners go too, so nothing still
 * reachable from outside keeps the instance alive.
 */
export async function closeTenantInstance(broker: Aedes): Promise<void> {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  broker.removeAllListeners();
}

/** Commands still pending or delivered, straight to this one connection (not to the device's others). */
function sendOutstanding(context: BrokerContext, client: Client, session: MqttSession): void {
  context.commands.outstandingFor(session.ctx).then(
    (commands) => {
      for (const command of commands) {
        client.publish({ cmd: 'publish', topic: commandTopic(session.deviceName!, command.id), payload: Buffer.from(JSON.stringify(command)), qos: 1, retain: false, dup: false }, () => undefined);
      }
    },
    (error: unknown) => context.log.error({ err: error }, 'could not load outstanding commands'),
  );
}
