import type { AedesPublishPacket, Client } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { Duplex } from 'node:stream';

type Callback = () => void;

/** The parts of an aedes 1.2 client this module relies on (checked when installed). */
type ClientInternals = {
  id: string;
  conn: Duplex;
  connecting: boolean;
  connected: boolean;
  duplicates: Record<string, number>;
  broker: { authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null | undefined };
  deliver0: (packet: AedesPublishPacket & { nl?: boolean; clientId?: string }, done: Callback) => void;
  waitForDrain(done: Callback): void;
  _onError(error: Error): void;
};

/**
 * Replaces aedes's QoS 0 delivery to one client. aedes defers every delivery
 * to its own `setImmediate`, copies the packet and writes it in four pieces,
 * then defers the completion again; a subscriber fed by a hundred publishers
 * pays that per message, and each message leaves one event-loop turn after it
 * arrived. Here a delivery is encoded and written at once (the connection is
 * corked for the turn by src/write-coalescing.ts) and the turn's completions run
 * together in one `setImmediate`, after the socket drains if it is full, as
 * aedes does. Same wire bytes, same order, same forwarding checks.
 */
export function batchQos0Deliveries(client: Client): void {
  const internals = client as unknown as ClientInternals;
  if (typeof internals.deliver0 !== 'function' || typeof internals.waitForDrain !== 'function' || typeof internals.duplicates !== 'object' || typeof internals._onError !== 'function') {
    throw new Error('aedes client internals changed: review src/broker/qos0-delivery.ts before upgrading it');
  }
  let completions: Callback[] = [];
  const complete = () => {
    const done = completions;
    completions = [];
    const runAll = () => done.forEach((callback) => callback());
    // Asked now, not when written: the turn's writes may have been sent already.
    if (internals.conn.writableNeedDrain) internals.waitForDrain(runAll);
    else runAll();
  };

  internals.deliver0 = function deliverQos0(packet, done) {
    if (completions.length === 0) setImmediate(complete);
    completions.push(done);
    // [MQTT-3.8.3-3] no-local (MQTT 5 only) and aedes's duplicate filter, then our forwarding policy.
    if (packet.clientId === internals.id && packet.nl) return;
    if (!firstSighting(internals, packet)) return;
    const forward = internals.broker.authorizeForward(client, packet);
    if (!forward) return;
    if (!internals.connected && !internals.connecting) {
      internals._onError(new Error('connection closed'));
      return;
    }
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: forward.topic, payload: forward.payload, qos: 0, retain: forward.retain, dup: false });
    internals.conn.write(bytes);
  };
}

/** aedes's dedupe: a packet relayed twice (from another broker of a cluster) is delivered once. */
function firstSighting(client: ClientInternals, packet: AedesPublishPacket): boolean {
  const id = packet.brokerId;
  if (!id) return true;
  const counter = packet.brokerCounter;
  if ((client.duplicates[id] ?? 0) >= counter) return false;
  client.duplicates[id] = counter;
  return true;
}
