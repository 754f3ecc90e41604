import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_USERNAME_CHARS } from '../../src/auth/credential-verifier.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { connect, exchange, rawStream, stillConnected } from '../support/mqtt.js';

/**
 * A CONNECT whose username Postgres cannot take (U+0000 made the batched
 * credential query fail for everyone in it: 107 of 150 CONNECTs from other
 * tenants were refused) costs only its own connection.
 */
describe('a malformed username among a storm of CONNECTs', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  const credentials: Credential[] = [];
  const open: MqttClient[] = [];

  beforeAll(async () => {
    gw = await startBrokerGateway();
    for (const slug of ['storm-a', 'storm-b']) {
      await gw.tenant(slug);
      for (let i = 0; i < 10; i++) credentials.push(await gw.device(slug, `sensor-${i}`));
    }
  });
  afterAll(async () => {
    await Promise.all(open.map((client) => client.endAsync(true).catch(() => undefined)));
    await gw?.close();
  });

  /** MQTT.js will not send every username; this CONNECT goes out as built (mqtt-packet over a raw socket). */
  async function connackFor(username: string, clientId: string): Promise<unknown> {
    const stream = await rawStream(gw.endpoints, 'tcp');
    try {
      const answer = await exchange(stream, [{ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, username, password: Buffer.from('gd_whatever') }]);
      return answer === 'closed' ? answer : { cmd: answer.cmd, returnCode: (answer as { returnCode?: number }).returnCode };
    } finally {
      stream.destroy();
    }
  }

  it('leaves all 100 legitimate clients of two tenants connected, and refuses the malformed ones as bad credentials', async () => {
    const legitimate = Array.from({ length: 100 }, (_, i) => {
      const credential = credentials[i % credentials.length]!;
      return connect(gw.endpoints.tcp, { username: credential.username, password: credential.password, clientId: `storm-${i}`, connectTimeout: 30_000 })
        .then((client) => { open.push(client); return client.connected; }, (error: Error) => error.message);
    });
    // Spread among the legitimate ones, so they arrive in the same batches.
    const malformed = [
      ...Array.from({ length: 5 }, (_, i) => connackFor(`sensor-${i}\u0000@storm-a`, `nul-${i}`)),
      ...Array.from({ length: 3 }, (_, i) => connackFor(`sensor-${i}@storm-b${'x'.repeat(MAX_USERNAME_CHARS)}`, `long-${i}`)),
    ];
    const [connected, refused] = await Promise.all([Promise.all(legitimate), Promise.all(malformed)]);

    expect(connected.filter((answer) => answer !== true)).toEqual([]);
    expect(connected).toHaveLength(100);
    expect(refused).toEqual(malformed.map(() => ({ cmd: 'connack', returnCode: 4 })));
    await Promise.all(open.map((client) => stillConnected(client))); // a round trip each, not a flag
  }, 90_000);
});
