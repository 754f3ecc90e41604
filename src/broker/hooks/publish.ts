import type { AedesPublishPacket, Client, PublishPacket } from 'aedes';
import { hasCode, isGatewayError } from '../../core/errors.js';
import { parseDeviceTopic, type DeviceTopic } from '../../core/topics/device-topics.js';
import { levelCount } from '../../core/topics/topic-match.js';
import { checkTelemetryPayload, stateObject } from '../../core/telemetry/telemetry-payload.js';
import { tenantScope } from '../../db/tenant-scope.js';
import type { BrokerContext } from '../broker-context.js';
import { atGrantedQos } from '../aedes-tuning/granted-qos.js';
import { isWellFormedMqttString } from '../mqtt-strings.js';
import { sessionOf, type MqttSession } from '../session.js';
import { reportViolation } from './violations.js';

/** Where refused messages go: a topic no client may subscribe to ($-topics other than $SYS are refused). */
export const DROPPED_TOPIC = '$gatehouse/dropped';

type Callback = (error?: Error | null) => void;

/**
 * MQTT 3.1.1 cannot refuse a PUBLISH [MQTT-3.3.5-2]: it is acknowledged as usual
 * and goes nowhere. The connection stays up, so nothing else it sent is lost.
 */
function drop(packet: PublishPacket, callback: Callback): void {
  packet.topic = DROPPED_TOPIC;
  packet.retain = false;
  callback(null);
}

/**
 * aedes authorizePublish: runs before the PUBACK, synchronously against the
 * ACL computed at CONNECT (an async check would reorder one client's messages).
 * Telemetry waits here for its batch to commit when QoS > 0, so the PUBACK
 * means "stored"; QoS 0 waits only when the writer is backed up (backpressure).
 */
export function authorizePublishHook(context: BrokerContext) {
  const { limits, metrics, telemetry, deviceState, commands, log } = context;

  function device(client: Client, session: MqttSession, packet: PublishPacket, parsed: DeviceTopic, callback: Callback): void {
    const deviceId = session.ctx.principal.id;
    deviceState.seen(deviceId);
    switch (parsed.kind) {
      case 'telemetry': {
        const verdict = checkTelemetryPayload(packet.payload as Buffer, limits.telemetryMaxBytes);
        if (!verdict.ok) {
          metrics.telemetryRejected[verdict.reason]!++;
          log.debug({ tenantId: session.ctx.tenantId, device: session.deviceName, reason: verdict.reason }, 'telemetry refused');
          return drop(packet, callback);
        }
        const tenant = tenantScope(session.ctx);
        const record = { tenant, deviceId, stream: parsed.stream, payload: verdict.payload, receivedAt: Date.now(), publisher: client };
        if (packet.qos > 0) {
          telemetry.write(record, callback);
          return;
        }
        if (telemetry.write(record)) return callback(null);
        telemetry.drained(tenant).then(() => callback(null), callback);
        return;
      }
      case 'state': {
        const verdict = checkTelemetryPayload(packet.payload as Buffer, limits.telemetryMaxBytes);
        const state = verdict.ok ? stateObject(verdict.payload) : undefined;
        if (state === undefined) return drop(packet, callback);
        deviceState.state(tenantScope(session.ctx), deviceId, state);
        retainInOrder(client, packet, log); // the last state is kept for whoever subscribes next
        return callback(null);
      }
      case 'command-result': {
        let result: unknown;
        try {
          result = JSON.parse((packet.payload as Buffer).toString('utf8'));
        } catch {
          return drop(packet, callback);
        }
        if (typeof result !== 'object' || result === null) return callback(null);
        return acknowledgeWhenStored(commands.complete(session.ctx, parsed.commandId, result as Record<string, unknown>), packet, callback, log);
      }
      case 'event':
        // Stored before it is passed on: push notifications are triggered by it.
        return acknowledgeWhenStored(context.core.deviceEvents.record(session.ctx, deviceId, parsed.path, (packet.payload as Buffer).toString('utf8')), packet, callback, log);
      default:
        return callback(null);
    }
  }

  return function authorizePublish(client: Client | null, packet: PublishPacket, answer: Callback): void {
    // client is null only for a will published after its broker restarted; wills were checked at CONNECT.
    const session = client ? sessionOf(client) : undefined;
    if (!session) return answer(client ? new Error('no session') : null);
    // Checked when the answer reaches aedes, which may be after the publishes read before this one were stored.
    const callback = session.arrivals.admit((error) => answer(error ?? senderLeft(client!, packet)));
    // [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-4.7.3-2]: a malformed packet closes the connection (audited first).
    if (!isWellFormedMqttString(packet.topic)) {
      metrics.refusedPublishes.invalid_topic!++;
      reportViolation(context, session, { reason: 'topic holds U+0000 or ill-formed UTF-8', topic: packet.topic });
      return callback(new Error('topic holds U+0000 or ill-formed UTF-8: disconnected'));
    }
    const size = (packet.payload as Buffer).length;
    metrics.messagesIn++;
    metrics.bytesIn += size;
    // Size first: a payload over the limit is dropped, and its bytes, never accepted, are not charged to the
    // byte bucket (a 6 MB payload would empty a 5 MiB/s bucket and disconnect); the message still counts.
    const oversized = size > limits.maxPayloadBytes;
    if (!session.rate.take(oversized ? 0 : size)) {
      metrics.refusedPublishes.rate_limit!++;
      reportViolation(context, session, { reason: 'rate limit exceeded', topic: packet.topic });
      return callback(new Error('rate limit exceeded: disconnected'));
    }
    // The tenant's rate across the fleet (MQTT_TENANT_RATE_*): decided from counts at hand, never a round trip per message.
    if (!oversized && !context.tenantRates.take(session.ctx.tenantId, size)) {
      metrics.refusedPublishes.tenant_rate!++;
      return drop(packet, callback);
    }
    if (oversized) {
      metrics.refusedPublishes.payload_too_large!++;
      log.info({ tenantId: session.ctx.tenantId, principal: session.ctx.principal, size }, 'payload over the limit dropped');
      return drop(packet, callback);
    }
    if (packet.topic.length > limits.maxTopicLength || levelCount(packet.topic) > limits.maxTopicLevels) {
      metrics.refusedPublishes.topic_limits!++;
      return drop(packet, callback);
    }
    const parsed = session.deviceName === undefined ? undefined : parseDeviceTopic(packet.topic);
    if (!session.acl.canPublish(packet.topic, parsed)) {
      metrics.refusedPublishes.acl!++;
      reportViolation(context, session, { reason: 'topic not allowed', topic: packet.topic });
      return drop(packet, callback);
    }
    // A retain flag set by the publisher is honoured once the message is accepted (drop() clears it).
    const accepted: Callback = packet.retain ? (error) => {
      if (!error && packet.retain) retainInOrder(client!, packet, log);
      callback(error);
    } : callback;
    if (parsed) return device(client!, session, packet, parsed, accepted);
    accepted(null);
  };
}

/**
 * A command result or a device event, written by the core. The message is passed on once it is stored,
 * whatever its QoS: the device's next messages wait meanwhile (aedes reads on when a batch is handled), so
 * a device flooding results holds one read's worth of writes in flight, not an unbounded queue of them.
 * At QoS 1 the PUBACK says it is stored: while the database is away none is sent, the connection closes,
 * and the device resends once it reconnects. One the core refuses (not JSON, too large, an unknown
 * command) is dropped: resending would not help.
 */
function acknowledgeWhenStored(stored: Promise<unknown>, packet: PublishPacket, callback: Callback, log: BrokerContext['log']): void {
  stored.then(() => callback(null), (error: unknown) => {
    if (packet.qos > 0 && hasCode(error, 'DATABASE_UNAVAILABLE')) return callback(error as Error);
    if (isGatewayError(error)) log.debug({ err: error, topic: packet.topic }, 'a device message was refused');
    else log.error({ err: error, topic: packet.topic }, 'storing a device message failed');
    drop(packet, callback);
  });
}

/**
 * A QoS 2 sender that left before its message was answered (stored, or waiting behind earlier ones): aedes
 * would now keep the message to await a PUBREL that cannot come, after the close already cleaned that
 * store, and keep it forever. Refused here, it is resent (no PUBREC was sent) and routed then.
 */
function senderLeft(client: Client, packet: PublishPacket): Error | null {
  return packet.qos === 2 && client.closed ? new Error('the sender left before PUBREC') : null;
}

type RetainedStore = { broker: { persistence: { storeRetained(packet: object): Promise<void> } } };

/**
 * aedes stores a retained message before routing it, and asynchronously, so
 * the messages read with it are routed first; each subscriber's duplicate
 * filter (a broker-wide counter that must only grow) then drops it. A watcher
 * on `devices/#` missed every state sent right before telemetry. Stored here,
 * at once and in arrival order, it is routed like any other message: live
 * subscribers get RETAIN 0 either way [MQTT-3.3.1-9], new ones get the store's copy.
 */
function retainInOrder(client: Client, packet: PublishPacket, log: BrokerContext['log']): void {
  const { persistence } = (client as unknown as RetainedStore).broker;
  persistence.storeRetained({ cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: true, dup: false })
    .catch((error: unknown) => log.error({ err: error, topic: packet.topic }, 'storing a retained message failed'));
  packet.retain = false;
}

/** Bounded: a connection that lives for months forgets the oldest ids (long since answered or expired). */
const FORWARDED_COMMANDS_KEPT = 256;

function firstForwarding(session: MqttSession, commandId: string): boolean {
  const forwarded = (session.commandsForwarded ??= new Set());
  if (forwarded.has(commandId)) return false;
  if (forwarded.size >= FORWARDED_COMMANDS_KEPT) forwarded.delete(forwarded.values().next().value!);
  forwarded.add(commandId);
  return true;
}

/**
 * aedes authorizeForward, synchronous and asked for every delivery (live,
 * queued for a persistent session, and the retained messages a SUBSCRIBE is
 * sent: aedes 1.2 hands those to deliverQoS/deliver0 too, see
 * handlers/subscribe.js and aedes-tuning/qos0-delivery.ts): topics the session's deny
 * filters withhold go nowhere (their subscription was granted because it only
 * overlapped a deny), expired commands are never delivered, whatever queue
 * they sat in, and a message goes out at the QoS its subscriber was granted.
 */
export function authorizeForwardHook(context: BrokerContext) {
  return function authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = sessionOf(client);
    if (session?.acl.withheld?.(packet.topic)) return null;
    if (session?.deviceName !== undefined && packet.topic.includes('/commands/')) {
      const parsed = parseDeviceTopic(packet.topic);
      if (parsed?.kind === 'command') {
        try {
          const { expiresAt } = JSON.parse((packet.payload as Buffer).toString('utf8')) as { expiresAt?: string };
          if (expiresAt && Date.parse(expiresAt) <= Date.now()) return null;
        } catch {
          return null;
        }
        if (!firstForwarding(session, parsed.commandId)) return null;
        context.commands.markDelivered(session.ctx, parsed.commandId).catch((error: unknown) => context.log.error({ err: error }, 'marking a command delivered failed'));
      }
    }
    context.metrics.messagesOut++;
    return atGrantedQos(client, packet);
  };
}
