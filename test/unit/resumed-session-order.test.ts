import type { AedesPublishPacket, Client } from 'aedes';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { notingQueuedDeliveries, resumedSessionOrder } from '../../src/broker/aedes-tuning/resumed-session-order.js';

/** An aedes client as resumedSessionOrder sees it, recording what it delivered, in order. */
function fakeClient() {
  const delivered: string[] = [];
  const client = Object.assign(new EventEmitter(), {
    connecting: false,
    connected: false,
    conn: new EventEmitter(),
    deliver0: (packet: AedesPublishPacket, done: () => void) => { delivered.push(`0 ${packet.topic}`); done(); },
    deliverQoS: (packet: AedesPublishPacket, done: () => void) => { delivered.push(`${packet.qos} ${packet.topic}`); done(); },
  });
  resumedSessionOrder(client as unknown as Client);
  return { client, delivered };
}

let counter = 0;
const packet = (topic: string, qos: 0 | 1 | 2 = 1) => ({ topic, qos, brokerId: 'b', brokerCounter: ++counter }) as AedesPublishPacket;
/** What aedes's emptyQueue does with a queued message: asks authorizeForward, then writes it. */
const sendFromQueue = (client: unknown, queued: AedesPublishPacket, delivered: string[]) => {
  if (notingQueuedDeliveries((_client, p) => p)(client as Client, queued)) delivered.push(`queue ${queued.topic}`);
};

describe('resumedSessionOrder', () => {
  it('holds deliveries until the connect has finished, then makes them in order before anything after', () => {
    const { client, delivered } = fakeClient();
    const done: string[] = [];
    client.deliverQoS(packet('restored/a'), () => done.push('a'));
    client.deliver0(packet('restored/b', 0), () => done.push('b'));
    expect(delivered).toEqual([]);
    client.emit('connected');
    client.deliverQoS(packet('live/c'), () => done.push('c'));
    expect(delivered).toEqual(['1 restored/a', '0 restored/b', '1 live/c']);
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('does not deliver again a message the session\'s queue sent while it was held (queued and routed at once)', () => {
    const { client, delivered } = fakeClient();
    const done: string[] = [];
    const both = packet('both/a', 2);
    const liveOnly = packet('live/b', 2);
    client.deliverQoS(both, () => done.push('a'));
    client.deliverQoS(liveOnly, () => done.push('b'));
    sendFromQueue(client, { ...both }, delivered);
    client.emit('connected');
    expect(delivered).toEqual(['queue both/a', '2 live/b']);
    expect(done).toEqual(['a', 'b']);
    // Once connected, the queue is no longer noted: a later delivery of the same message id is not the resume's.
    sendFromQueue(client, packet('later/c'), delivered);
    client.deliverQoS({ ...both }, () => done.push('a again'));
    expect(delivered.at(-1)).toBe('2 both/a');
  });

  it('lets go of what it held, undelivered, when the connection closes before the connect finished', () => {
    const { client, delivered } = fakeClient();
    const done: string[] = [];
    client.deliverQoS(packet('restored/a'), () => done.push('a'));
    client.conn.emit('close');
    expect(done).toEqual(['a']);
    expect(delivered).toEqual([]);
  });
});
