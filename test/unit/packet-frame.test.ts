import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, sentBy, type EmittedPacket } from '../../src/fleet/packet-frame.js';

const node = Buffer.from('0102030405060708', 'hex');
const other = Buffer.from('0807060504030201', 'hex');

describe('packet frames between nodes', () => {
  it('carries what aedes needs on the other node, and not the connection\'s messageId', () => {
    const packet: EmittedPacket = {
      cmd: 'publish', topic: 'devices/lamp/telemetry', payload: Buffer.from('{"w":3}'), qos: 1, retain: false, dup: false,
      brokerId: '6a0c5e53-5e2e-4f0e-9d43-8a43f6fcbf9e', brokerCounter: 2 ** 40 + 7, clientId: 'c:lamp', messageId: 42,
    };
    const decoded = decodeFrame(encodeFrame(node, packet));
    expect(decoded).toEqual({ cmd: 'publish', topic: 'devices/lamp/telemetry', payload: Buffer.from('{"w":3}'), qos: 1, retain: false, dup: false,
      brokerId: packet.brokerId, brokerCounter: 2 ** 40 + 7, clientId: 'c:lamp' });
  });

  it('keeps qos 2, retain, dup, no-local and MQTT 5 properties with binary correlation data', () => {
    const packet: EmittedPacket = {
      topic: 'a/ü/b', payload: 'text', qos: 2, retain: true, dup: true, nl: true, clientId: 'x', messageExpiry: 1_700_000_000_000,
      properties: { correlationData: Buffer.from([0, 255, 7]), userProperties: { k: 'v' }, contentType: 'application/json' },
    };
    const decoded = decodeFrame(encodeFrame(node, packet));
    expect(decoded).toMatchObject({ topic: 'a/ü/b', qos: 2, retain: true, dup: true, nl: true, clientId: 'x', messageExpiry: 1_700_000_000_000 });
    expect(decoded.payload).toEqual(Buffer.from('text'));
    expect(decoded.properties).toEqual(packet.properties);
    expect(Buffer.isBuffer((decoded.properties as { correlationData: unknown }).correlationData)).toBe(true);
  });

  it('is its topic and payload plus a few bytes for a packet without a broker (a command from a node without the tenant)', () => {
    const frame = encodeFrame(node, { topic: 't', payload: Buffer.alloc(100), qos: 0, retain: false });
    expect(frame.length).toBe(10 + 2 + 1 + 100);
    expect(decodeFrame(frame)).toEqual({ cmd: 'publish', topic: 't', payload: Buffer.alloc(100), qos: 0, retain: false, dup: false });
  });

  it('names its sender, so a node skips its own echo', () => {
    const frame = encodeFrame(node, { topic: 't', payload: Buffer.alloc(0) });
    expect(sentBy(frame, node)).toBe(true);
    expect(sentBy(frame, other)).toBe(false);
    expect(sentBy(Buffer.alloc(3), node)).toBe(false);
  });

  it('refuses a frame of another version or cut short', () => {
    const frame = encodeFrame(node, { topic: 'devices/x/state', payload: Buffer.from('1'), brokerId: 'b', brokerCounter: 1 });
    expect(() => decodeFrame(Buffer.concat([Buffer.from([9]), frame.subarray(1)]))).toThrow(/version 1/);
    expect(() => decodeFrame(frame.subarray(0, 22))).toThrow(/truncated|out of range/);
  });
});
