import mqttPacket from 'mqtt-packet';

type Suback = { cmd: string; messageId?: number; granted?: number[] };

/** SUBSCRIBEs that repeat a filter, by connection and packet id: their filters as sent. */
const repeating = new WeakMap<object, Map<number, string[]>>();
let installed = false;

/**
 * [MQTT-3.9.3-1] A SUBACK holds a return code for each filter of its
 * SUBSCRIBE, in order. aedes 1.2 collapses a SUBSCRIBE's repeated filters
 * (keeping the last, as [MQTT-3.8.4-3] has a repeated one replace the first)
 * and answers one code per distinct filter, a SUBACK MQTT.js drops the
 * connection over. Called with such a SUBSCRIBE as it leaves the parser
 * (hooks/packet-screen.ts): its SUBACK is written with each filter's code.
 * aedes writes through mqtt-packet's writeToStream, looked up at each call:
 * wrapped once, it passes every other packet on untouched.
 */
export function answerEachFilter(conn: object, messageId: number, filters: string[]): void {
  if (new Set(filters).size === filters.length) return;
  install();
  let pending = repeating.get(conn);
  if (!pending) repeating.set(conn, (pending = new Map()));
  pending.set(messageId, filters);
}

function install(): void {
  if (installed) return;
  installed = true;
  const writeToStream = mqttPacket.writeToStream;
  mqttPacket.writeToStream = Object.assign(function writeSuback(packet: Parameters<typeof writeToStream>[0], stream: Parameters<typeof writeToStream>[1], options?: Parameters<typeof writeToStream>[2]) {
    const suback = packet as Suback;
    const filters = suback.cmd === 'suback' && suback.granted ? repeating.get(stream)?.get(suback.messageId!) : undefined;
    if (!filters) return writeToStream(packet, stream, options);
    repeating.get(stream)!.delete(suback.messageId!);
    // aedes's distinct filters are in the order each first appeared.
    const distinct = [...new Set(filters)];
    const granted = filters.map((filter) => suback.granted![distinct.indexOf(filter)]!);
    return writeToStream({ ...packet, granted } as typeof packet, stream, options);
  }, { cacheNumbers: writeToStream.cacheNumbers });
}
