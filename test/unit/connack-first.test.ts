import type { AedesPublishPacket, Client } from 'aedes';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { connackFirst } from '../../src/broker/aedes-tuning/connack-first.js';

/** An aedes client as connackFirst sees it, recording what it delivered, in order. */
function fakeClient() {
  const delivered: string[] = [];
  const client = {
    connackSent: false,
    conn: new EventEmitter(),
    deliver0: (packet: AedesPublishPacket, done: () => void) => { delivered.push(`0 ${packet.topic}`); done(); },
    deliverQoS: (packet: AedesPublishPacket, done: () => void) => { delivered.push(`1 ${packet.topic}`); done(); },
  };
  connackFirst(client as unknown as Client);
  return { client, delivered };
}

const packet = (topic: string) => ({ topic }) as AedesPublishPacket;

describe('connackFirst', () => {
  it('holds deliveries until the CONNACK is sent, then makes them in order before anything after', () => {
    const { client, delivered } = fakeClient();
    const done: string[] = [];
    client.deliverQoS(packet('restored/a'), () => done.push('a'));
    client.deliver0(packet('restored/b'), () => done.push('b'));
    expect(delivered).toEqual([]);
    client.connackSent = true;
    client.deliverQoS(packet('queued/c'), () => done.push('c'));
    expect(delivered).toEqual(['1 restored/a', '0 restored/b', '1 queued/c']);
    expect(done).toEqual(['a', 'b', 'c']);
    expect(client.connackSent).toBe(true);
  });

  it('lets go of what it held, undelivered, when the connection closes before its CONNACK', () => {
    const { client, delivered } = fakeClient();
    const done: string[] = [];
    client.deliverQoS(packet('restored/a'), () => done.push('a'));
    client.conn.emit('close');
    expect(done).toEqual(['a']);
    expect(delivered).toEqual([]);
  });
});
