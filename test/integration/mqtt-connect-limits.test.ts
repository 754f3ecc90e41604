import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/auth/failure-limiter.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { metric } from '../support/metrics.js';
import { connect, exchange, rawConnect, refusedWith, stillConnected } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

const MAX_CONNECTIONS = 3;
const RATE_BYTES = 4_096;

/**
 * What the README promises about CONNECT and the limits around it: MQTT 5 is
 * told 0x84, the node's connection limit answers CONNACK 3, the byte-rate
 * bucket disconnects, and repeated bad passwords lock the MQTT username and the
 * source address (the failure limiter's `mqtt:` and `ip:` keys; CONNACK 5).
 * Every address of 127.0.0.0/8 is this machine: each lockout test connects from
 * its own, so that no lock reaches the other tests.
 */
describe('MQTT CONNECT limits', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let device: Credential;
  let spare: Credential;
  const open: MqttClient[] = [];
  let clientIds = 0;

  const port = () => Number(new URL(gw.endpoints.tcp).port);
  const connections = () => metric(gw.base, 'gatehouse_mqtt_connections');

  async function as(credential: Credential): Promise<MqttClient> {
    const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password, clientId: `limits-${++clientIds}` });
    open.push(client);
    return client;
  }

  /** The CONNACK return code for a CONNECT sent from `localAddress` (an address of the loopback network). */
  async function connackFrom(localAddress: string, username: string, password: string): Promise<number> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: port(), localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    try {
      const answer = await exchange(socket, [rawConnect({ clientId: `from-${localAddress}-${++clientIds}`, clean: true, username, password })]);
      if (answer === 'closed' || answer.cmd !== 'connack') throw new Error(`no CONNACK: ${JSON.stringify(answer)}`);
      return answer.returnCode!;
    } finally {
      socket.destroy();
    }
  }

  /** The LOCKOUT security event written for `key`. */
  const lockoutOf = (key: string) => waitFor(async () => {
    const rows = await gw.gateway.core.db.platformQuery<{ details: { key: string } }>(`SELECT details FROM security_events WHERE event_type = 'LOCKOUT' AND details->>'key' = $1`, [key]);
    return rows.length > 0 ? rows : undefined;
  }, 5_000, `the LOCKOUT event of ${key}`);

  beforeAll(async () => {
    gw = await startBrokerGateway({ MQTT_MAX_CONNECTIONS: String(MAX_CONNECTIONS), MQTT_RATE_BYTES: String(RATE_BYTES), MQTT_RATE_MESSAGES: '100000' });
    await gw.tenant('limits');
    device = await gw.device('limits', 'meter');
    spare = await gw.device('limits', 'spare');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('answers an MQTT 5 CONNECT with CONNACK 0x84 (unsupported protocol version), before looking at its credentials', async () => {
    expect(await refusedWith(gw.endpoints.tcp, { protocolVersion: 5, username: device.username, password: device.password })).toBe(0x84);
    expect(await refusedWith(gw.endpoints.ws, { protocolVersion: 5, username: device.username, password: 'wrong' })).toBe(0x84);
    // Byte by byte, with no client library in between: a version 5 CONNACK carrying reason code 0x84.
    const socket = net.connect(port(), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const answer = new Promise((resolve) => parser.once('packet', resolve));
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: 'v5' }, { protocolVersion: 5 }));
    expect(await answer).toMatchObject({ cmd: 'connack', reasonCode: 0x84 });
    socket.destroy();
    // The same CONNECT in 3.1.1 is accepted: it was the version that was refused.
    await stillConnected(await as(device));
  });

  it(`refuses the CONNECT past MQTT_MAX_CONNECTIONS (${MAX_CONNECTIONS}) with CONNACK 3, and takes one once a slot is free`, async () => {
    await waitFor(async () => ((await connections()) === 0 ? true : undefined), 5_000, 'no connection left from other tests');
    const clients = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) clients.push(await as(i % 2 === 0 ? device : spare));
    expect(await connections()).toBe(MAX_CONNECTIONS);
    expect(await refusedWith(gw.endpoints.tcp, { username: device.username, password: device.password })).toBe(3);
    expect(await refusedWith(gw.endpoints.ws, { username: spare.username, password: spare.password })).toBe(3);
    for (const client of clients) await stillConnected(client); // the refusals cost the others nothing
    await clients[0]!.endAsync();
    await waitFor(async () => ((await connections()) === MAX_CONNECTIONS - 1 ? true : undefined), 5_000, 'the freed slot');
    await stillConnected(await as(device));
  });

  it(`disconnects a client over MQTT_RATE_BYTES (${RATE_BYTES} bytes/s) and writes a security event; under it the client stays`, async () => {
    const steady = await as(device);
    await steady.publishAsync('devices/meter/events/within', Buffer.alloc(RATE_BYTES - 96, 0x61), { qos: 1 });
    await stillConnected(steady);

    const flooder = await as(spare);
    const closed = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
    // One message, more bytes than the bucket holds (one second's worth): it can never pass.
    flooder.publish('devices/spare/events/flood', Buffer.alloc(RATE_BYTES + 1_000, 0x61), { qos: 0 });
    await closed;
    const events = await waitFor(async () => {
      const rows = await gw.gateway.core.db.platformQuery<{ details: { reason: string; topic: string } }>(
        `SELECT details FROM security_events WHERE event_type = 'DEVICE_TOPIC_VIOLATION' AND device_id = $1`, [spare.id]);
      return rows.length > 0 ? rows : undefined;
    }, 5_000, 'the rate-limit event');
    expect(events.map((row) => row.details)).toEqual([expect.objectContaining({ reason: 'rate limit exceeded', topic: 'devices/spare/events/flood' })]);
    expect(await metric(gw.base, 'gatehouse_mqtt_publishes_refused_total', { reason: 'rate_limit' })).toBe(1);
    await stillConnected(steady); // the limit is per connection
  });

  it('locks an MQTT username after repeated bad passwords (CONNACK 5, even with the right one), whether or not it exists', async () => {
    const { maxFailures } = DEFAULT_LIMITS.mqtt!;
    const locked = await gw.device('limits', 'guessed');
    for (let i = 0; i < maxFailures; i++) expect(await connackFrom('127.0.0.11', locked.username, `gd_wrong-${i}`)).toBe(4);
    expect(await connackFrom('127.0.0.11', locked.username, locked.password)).toBe(5);
    // The username is locked, wherever the CONNECT comes from; the address is not (another username passes).
    expect(await connackFrom('127.0.0.12', locked.username, locked.password)).toBe(5);
    expect(await connackFrom('127.0.0.11', spare.username, spare.password)).toBe(0);
    expect(await lockoutOf(`mqtt:${locked.username}`)).toHaveLength(1);

    // A username that does not exist is answered the same way.
    for (let i = 0; i < maxFailures; i++) expect(await connackFrom('127.0.0.13', 'ghost@limits', `gd_wrong-${i}`)).toBe(4);
    expect(await connackFrom('127.0.0.13', 'ghost@limits', 'gd_wrong')).toBe(5);
    expect(await lockoutOf('mqtt:ghost@limits')).toHaveLength(1);
  }, 60_000);

  it('locks a source address after repeated failures spread over usernames (CONNACK 5); other addresses are served', async () => {
    const { maxFailures } = DEFAULT_LIMITS.ip!;
    const perName = DEFAULT_LIMITS.mqtt!.maxFailures - 1; // no username reaches its own lock
    for (let i = 0; i < maxFailures; i++) {
      expect(await connackFrom('127.0.0.21', `nobody-${Math.floor(i / perName)}@limits`, 'gd_wrong')).toBe(4);
    }
    expect(await connackFrom('127.0.0.21', device.username, device.password)).toBe(5);
    expect(await connackFrom('127.0.0.22', device.username, device.password)).toBe(0);
    expect(await lockoutOf('ip:127.0.0.21')).toHaveLength(1);
  }, 120_000);
});
