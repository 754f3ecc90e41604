import type { AedesPublishPacket, Client } from 'aedes';
import { parseSharedFilter } from '../../core/topics/shared-subscription.js';
import { topicMatches } from '../../core/topics/topic-match.js';

/** The parts of an aedes 1.2 client read here. */
type ClientInternals = { clean: boolean; subscriptions: Record<string, { qos: number } | undefined> };

/**
 * [MQTT-3.3.5-1] A message goes out at the lower of its own QoS and the QoS
 * granted to the client, the highest of its matching subscriptions when they
 * overlap. aedes 1.2 lowers it only for a subscription to the very topic
 * (client.js deliverQoS), so a QoS 2 message reached a QoS 1 subscriber of
 * `devices/+/events` or `$share/g/…` at QoS 2. A QoS 1 message needs nothing:
 * a QoS 0 subscription delivers through deliver0, which sends QoS 0.
 * Returns the packet, or a copy at the granted QoS.
 *
 * Clean sessions only. A persistent session's delivery is stored by the
 * persistence, and aedes-persistence-redis stores it in the message's one
 * record that every session queued it for: a copy lowered for one subscriber
 * would lower the queued message for all of them. aedes also resends a
 * session's queue as stored, whatever authorizeForward answers.
 */
export function atGrantedQos(client: Client, packet: AedesPublishPacket): AedesPublishPacket {
  if (packet.qos !== 2) return packet;
  const { clean, subscriptions } = client as unknown as ClientInternals;
  if (!clean || subscriptions[packet.topic]) return packet;
  let granted = -1;
  for (const [filter, subscription] of Object.entries(subscriptions)) {
    if (!subscription || subscription.qos <= granted) continue;
    const matched = parseSharedFilter(filter)?.filter ?? filter;
    if (topicMatches(matched, packet.topic)) granted = subscription.qos;
    if (granted === 2) return packet;
  }
  // No subscription matches: a message sent to this client directly (a command), at the QoS it was sent.
  return granted < 0 ? packet : { ...packet, qos: granted as 0 | 1 };
}
