import type { AedesPublishPacket, Client } from 'aedes';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;
type AuthorizeForward = (client: Client, packet: AedesPublishPacket) => AedesPublishPacket | null | undefined;

/** The parts of an aedes 1.2 client this module relies on (checked when installed). */
type ClientInternals = Client & { connecting: boolean; connected: boolean; deliver0: Deliver; deliverQoS: Deliver; conn: { once(event: 'close', listener: () => void): unknown } };

/** The messages a connecting client's queue sent, while its live deliveries are held (see below). */
const sentFromQueue = new WeakMap<Client, Set<string>>();

const messageKey = (packet: AedesPublishPacket) => `${packet.brokerId}:${packet.brokerCounter}`;

/**
 * A connecting client's deliveries, in the order MQTT requires. aedes restores
 * a persistent session's subscriptions first, then stores the will, registers
 * the client, writes the CONNACK and only then sends what was queued for the
 * session (handlers/connect.js), so a message routed in that window:
 * - was written before the CONNACK, against [MQTT-3.2.0-1] (on a fleet, a
 *   message reaching the node through Redis just after its publisher's PUBACK:
 *   2 reconnects to another node in 400);
 * - was, at QoS 1/2, both queued for the session (aedes queues before it
 *   routes) and delivered live, so the client got it twice: reproduced with a
 *   session resumed 60 times under QoS 1 load over Redis. At QoS 2 the two
 *   copies can carry different packet ids, and exactly once is broken.
 * Deliveries are held until the connect has finished (CONNACK written, queue
 * sent), then made in order, except a message the queue has already sent.
 * The queue's sends are known from authorizeForward, which aedes asks for each
 * (`notingQueuedDeliveries`).
 *
 * A held delivery keeps its `done` until the flush, so the tenant's emitter
 * waits for the connect (it is short); letting the emitter go at once was
 * tried and lost the tail of a resumed session's messages in that test.
 */
export function resumedSessionOrder(client: Client): void {
  const internals = client as ClientInternals;
  if (internals.connecting !== false || internals.connected !== false || typeof internals.deliver0 !== 'function' || typeof internals.deliverQoS !== 'function') {
    throw new Error('aedes client internals changed: review src/broker/aedes-tuning/resumed-session-order.ts before upgrading it');
  }
  const sent = new Set<string>();
  sentFromQueue.set(client, sent);
  let held: [Deliver, AedesPublishPacket, () => void][] | undefined = [];
  const holding = (deliver: Deliver): Deliver => function heldUntilConnected(packet, done) {
    if (held === undefined) return deliver(packet, done);
    held.push([deliver, packet, done]);
  };
  const { deliver0, deliverQoS } = internals;
  const held0 = (internals.deliver0 = holding(deliver0));
  const heldQoS = (internals.deliverQoS = holding(deliverQoS));
  client.once('connected', () => {
    const deliveries = held ?? [];
    held = undefined;
    sentFromQueue.delete(client);
    // Subscriptions made from now on skip the wrapper, unless another was put around it meanwhile (queueSharedDeliveries, by a restored shared subscription).
    if (internals.deliver0 === held0) internals.deliver0 = deliver0;
    if (internals.deliverQoS === heldQoS) internals.deliverQoS = deliverQoS;
    for (const [deliver, packet, done] of deliveries) {
      if (packet.qos > 0 && sent.has(messageKey(packet))) done();
      else deliver(packet, done);
    }
  });
  // Never connected: nothing is delivered, and whoever waits on a delivery (the emitter, a queue) is let go.
  internals.conn.once('close', () => {
    const deliveries = held ?? [];
    held = undefined;
    for (const [, , done] of deliveries) done();
  });
}

/** The broker's authorizeForward, noting each message a connecting client's queue sends (see resumedSessionOrder). */
export function notingQueuedDeliveries(authorizeForward: AuthorizeForward): AuthorizeForward {
  return function authorizeForwardNoted(client, packet) {
    const forwarded = authorizeForward(client, packet);
    // A clean session's queue is cleared, not sent (aedes emptyQueueFilter).
    if (forwarded && !client.clean) sentFromQueue.get(client)?.add(messageKey(packet));
    return forwarded;
  };
}
