import type { AedesPublishPacket, Client } from 'aedes';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;

/** The parts of an aedes 1.2 client this module relies on (checked when installed). */
type ClientInternals = { connackSent: boolean; deliver0: Deliver; deliverQoS: Deliver; conn: { once(event: 'close', listener: () => void): unknown } };

/**
 * [MQTT-3.2.0-1] The first packet a client receives is its CONNACK. aedes
 * restores a persistent session's subscriptions before it writes the CONNACK
 * (then stores the will and registers the client, each asynchronous), so a
 * message routed in that window was delivered first: on a fleet, a message
 * that reached the node through Redis just after its publisher's PUBACK, which
 * MQTT.js passed on before its 'connect' (measured: 2 reconnects to another
 * node in 400). Deliveries before the CONNACK is written are held and made, in
 * order, the moment it is (before aedes sends what was queued for the session).
 */
export function connackFirst(client: Client): void {
  const internals = client as unknown as ClientInternals;
  if (internals.connackSent !== false || typeof internals.deliver0 !== 'function' || typeof internals.deliverQoS !== 'function') {
    throw new Error('aedes client internals changed: review src/broker/aedes-tuning/connack-first.ts before upgrading it');
  }
  let held: [Deliver, AedesPublishPacket, () => void][] | undefined = [];
  const holding = (deliver: Deliver): Deliver => function heldUntilConnack(packet, done) {
    if (held === undefined) return deliver(packet, done);
    held.push([deliver, packet, done]);
  };
  internals.deliver0 = holding(internals.deliver0);
  internals.deliverQoS = holding(internals.deliverQoS);
  let sent = false;
  Object.defineProperty(client, 'connackSent', {
    configurable: true,
    enumerable: true,
    get: () => sent,
    set(value: boolean) {
      sent = value;
      if (!value || held === undefined) return;
      const deliveries = held;
      held = undefined;
      for (const [deliver, packet, done] of deliveries) deliver(packet, done);
    },
  });
  // Never connected: nothing is delivered, and whoever waits on a delivery (the emitter, a queue) is let go.
  internals.conn.once('close', () => {
    const deliveries = held ?? [];
    held = undefined;
    for (const [, , done] of deliveries) done();
  });
}
