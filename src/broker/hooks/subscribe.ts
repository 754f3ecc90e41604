import type { Client, Subscription } from 'aedes';
import { parseSharedFilter } from '../../core/topics/shared-subscription.js';
import { levelCount } from '../../core/topics/topic-match.js';
import type { BrokerContext } from '../broker-context.js';
import { isWellFormedMqttString } from '../mqtt-strings.js';
import { sessionOf } from '../session.js';
import { queueSharedDeliveries } from '../shared-subscriptions.js';
import { positionInPacket } from './packet-screen.js';

/**
 * aedes authorizeSubscribe: the ACL computed at CONNECT decides; a refused
 * filter gets 0x80 in the SUBACK and the connection stays. A shared
 * subscription is judged by its filter, as the same filter alone would be
 * (shared-subscriptions.ts delivers it); a malformed one is refused. A filter that only
 * overlaps a deny filter is granted: the denied topics are withheld at
 * delivery (TopicAcl.withheld, asked by authorizeForward in hooks/publish.ts).
 *
 * Limits are answered per filter, like a per-client quota in EMQX or NATS
 * (0x80 in 3.1.1, 0x97 "quota exceeded" in 5), never by refusing the whole
 * packet (as AWS IoT does past 8 filters): the SUBACK then tells the client
 * exactly which filters it holds. Of one SUBSCRIBE, the entries after the
 * first MQTT_MAX_SUBSCRIPTIONS_PER_PACKET are refused; a connection holds at
 * most MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT filters (subscribing again to one it
 * holds replaces it [MQTT-3.8.4-3], so that is always allowed).
 */
export function authorizeSubscribeHook(context: BrokerContext) {
  const { limits, metrics } = context;
  return function authorizeSubscribe(client: Client, sub: Subscription, callback: (error: Error | null, sub?: Subscription | null) => void): void {
    const session = sessionOf(client);
    const filter = sub.topic;
    // [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-4.7.3-2]: a malformed packet closes the connection, no SUBACK.
    if (!isWellFormedMqttString(filter)) return callback(new Error('SUBSCRIBE filter holds U+0000 or ill-formed UTF-8'));
    const held = session ? (session.subscriptions ??= new Set()) : undefined;
    const shared = parseSharedFilter(filter);
    const matched = shared === undefined ? filter : shared?.filter;
    const allowed = session !== undefined && held !== undefined && matched !== undefined
      && positionInPacket(sub) < limits.maxSubscriptionsPerPacket
      && (held.has(filter) || held.size < limits.maxSubscriptionsPerClient)
      && filter.length <= limits.maxTopicLength
      && levelCount(matched) <= limits.maxTopicLevels && session.acl.canSubscribe(matched);
    if (!allowed) {
      metrics.refusedSubscribes++;
      return callback(null, null);
    }
    held.add(filter);
    if (shared) queueSharedDeliveries(client);
    callback(null, sub);
  };
}
