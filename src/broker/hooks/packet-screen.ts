import type { Client } from 'aedes';
import type { Packet } from 'mqtt-packet';
import { isWellFormedMqttString } from '../mqtt-strings.js';
import { sessionOf } from '../session.js';
import { answerEachFilter } from '../aedes-tuning/suback-per-filter.js';

/** The parts of an aedes 1.2 client this module relies on (checked when installed). */
type ParserInternals = { _parser: { prependListener(event: 'packet', listener: (packet: Packet) => void): unknown } };

/** Each SUBSCRIBE entry's position in its packet, for the per-packet limit (hooks/subscribe.ts). */
const positions = new WeakMap<object, number>();

/** The position of a subscription in the SUBSCRIBE that carried it; 0 for a restored one. */
export function positionInPacket(sub: object): number {
  return positions.get(sub) ?? 0;
}

/**
 * What aedes has no hook for, seen as each packet leaves the parser and before
 * aedes handles it: the position of every SUBSCRIBE entry (authorizeSubscribe
 * is called per filter, without its packet), and UNSUBSCRIBE, whose filters
 * aedes looks up as sent. Installed from preConnect, which aedes calls while
 * parsing the CONNECT, so no later packet of the connection is missed.
 */
export function screenPackets(client: Client): void {
  const parser = (client as unknown as ParserInternals)._parser;
  if (typeof parser?.prependListener !== 'function') throw new Error('aedes client internals changed: review src/broker/hooks/packet-screen.ts before upgrading it');
  parser.prependListener('packet', (packet) => {
    if (packet.cmd === 'subscribe') {
      const subscriptions = packet.subscriptions;
      for (let i = 1; i < subscriptions.length; i++) positions.set(subscriptions[i]!, i);
      if (subscriptions.length > 1) answerEachFilter((client as unknown as { conn: object }).conn, packet.messageId!, subscriptions.map((sub) => sub.topic));
    } else if (packet.cmd === 'unsubscribe') {
      unsubscribing(client, packet.unsubscriptions);
    }
  });
}

function unsubscribing(client: Client, filters: string[]): void {
  for (const filter of filters) {
    // [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-4.7.3-2]: ill-formed, the packet is malformed; the connection closes.
    if (!isWellFormedMqttString(filter)) {
      client.emit('error', new Error('UNSUBSCRIBE filter holds U+0000 or ill-formed UTF-8'));
      return;
    }
  }
  const held = sessionOf(client)?.subscriptions;
  if (held) for (const filter of filters) held.delete(filter);
}
