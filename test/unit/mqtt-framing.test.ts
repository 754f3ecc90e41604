import { describe, expect, it } from 'vitest';
import { ConnectReader } from '../../src/broker/connect-reader.js';
import { decodeFixedHeader, PacketBoundaries } from '../../src/broker/fixed-header.js';
import { auditableString, isWellFormedMqttString } from '../../src/broker/mqtt-strings.js';
import { varint } from '../support/raw-mqtt.js';

const packet = (first: number, body: number) => Buffer.from([first, ...varint(body), ...new Array<number>(body).fill(0x61)]);

describe('fixed headers [MQTT-2.2.3]', () => {
  it('decodes the type and the whole declared size, incomplete until the last length byte', () => {
    expect(decodeFixedHeader(Buffer.from([0x10, 0x7f]))).toEqual({ type: 1, headerBytes: 2, total: 129 });
    expect(decodeFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))).toEqual({ type: 3, headerBytes: 5, total: 268_435_460 });
    expect(decodeFixedHeader(Buffer.from([0x30, 0x80]))).toBe('incomplete');
    expect(decodeFixedHeader(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe('malformed');
  });

  it('follows packet boundaries across chunks and judges a packet from its header alone', () => {
    const limits = new PacketBoundaries((type) => (type === 1 ? 100 : 1000));
    const stream = Buffer.concat([packet(0x10, 50), packet(0x30, 900), packet(0xc0, 0), packet(0x30, 997)]);
    for (let at = 0; at < stream.length; at += 7) expect(limits.scan(stream.subarray(at, at + 7))).toBe('ok');
    expect(limits.scan(Buffer.from([0x30, ...varint(998)]))).toBe('too-large');
    expect(limits.declared).toBe(1001);
    expect(new PacketBoundaries(() => 1000).scan(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80]))).toBe('malformed');
  });
});

describe('ConnectReader', () => {
  it('refuses a CONNECT declaring more than its limit from the header, before any body', () => {
    expect(new ConnectReader(1000).push(Buffer.from([0x10, ...varint(268_435_455)]))).toEqual({ state: 'refused', reason: 'too-large', declared: 268_435_460 });
    expect(new ConnectReader(1000).push(Buffer.from([0x30, 0x00]))).toEqual({ state: 'refused', reason: 'not-connect' });
  });

  it('gathers a CONNECT byte by byte into one buffer of its size, and keeps what followed', () => {
    const reader = new ConnectReader(1000);
    const bytes = Buffer.concat([packet(0x10, 200), Buffer.from([0xc0, 0x00])]);
    for (let i = 0; i < 202; i++) expect(reader.push(bytes.subarray(i, i + 1))).toEqual({ state: 'more' });
    const done = reader.push(bytes.subarray(202));
    expect(done).toMatchObject({ state: 'complete' });
    if (done.state !== 'complete') return;
    expect(done.connect).toEqual(bytes.subarray(0, 203));
    expect(done.rest).toEqual(Buffer.from([0xc0, 0x00]));
  });
});

describe('MQTT strings [MQTT-1.5.3-1, MQTT-1.5.3-2]', () => {
  it('refuses U+0000 and what ill-formed UTF-8 decodes to', () => {
    expect(isWellFormedMqttString('devices/a/telemetry/é')).toBe(true);
    expect(isWellFormedMqttString('devices/a\u0000')).toBe(false);
    expect(isWellFormedMqttString(Buffer.from([0x61, 0xc3, 0x28]).toString('utf8'))).toBe(false);
  });

  it('makes a topic fit for jsonb: NUL escaped, no lone surrogate left by the cut', () => {
    expect(auditableString('a\u0000b')).toBe('a\\u0000b');
    expect(auditableString(`${'x'.repeat(199)}😀`)).toBe(`${'x'.repeat(199)}\uFFFD`);
  });
});
