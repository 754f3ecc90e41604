import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type Pem } from '../../src/broker/dev-certificates.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { metric } from '../support/metrics.js';
import { connect, refusedWith } from '../support/mqtt.js';
import { recordingLog } from '../support/recording-log.js';

describe('client certificates (mTLS) and connection limits', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let device: Credential;
  let good: Pem;
  let unknown: Pem;
  let foreign: Pem;
  let dir: string;
  const logs = recordingLog();

  beforeAll(async () => {
    const ca = await createDevCa();
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-client-ca-'));
    await writeFile(path.join(dir, 'clients-ca.crt'), ca.cert);
    gw = await startBrokerGateway({ MQTT_TLS_CLIENT_CA: path.join(dir, 'clients-ca.crt'), MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: '2' }, logs.log);
    await gw.tenant('factory');
    device = await gw.device('factory', 'press-1');
    good = await issueCertificate(ca, { client: device.username });
    unknown = await issueCertificate(ca, { client: 'ghost@factory' });
    foreign = await issueCertificate(await createDevCa(), { client: device.username });
  });
  afterAll(async () => {
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tlsOptions = (pem?: Pem) => ({ ca: gw.endpoints.ca, rejectUnauthorized: true, ...(pem ? { cert: pem.cert, key: pem.key } : {}) });

  it('a device authenticates with a certificate whose CN is its username, no password needed', async () => {
    const client = await connect(gw.endpoints.tls!, { ...tlsOptions(good), clientId: 'cert-1' });
    await client.publishAsync('devices/press-1/telemetry', '{"ok":true}', { qos: 1 });
    await client.endAsync();
    const rows = await gw.gateway.core.db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE device_id = $1', [device.id]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('refuses a certificate for no device, one from another CA, and no certificate without a password', async () => {
    expect(await refusedWith(gw.endpoints.tls!, tlsOptions(unknown))).toBe(4);
    expect(await refusedWith(gw.endpoints.tls!, tlsOptions(foreign))).toBe(4);
    expect(await refusedWith(gw.endpoints.tls!, tlsOptions())).toBe(4);
    expect(await refusedWith(gw.endpoints.tls!, { ...tlsOptions(good), username: 'press-2@factory' })).toBe(4);
  });

  it('allows several connections per credential up to the limit, with distinct client ids; over it "Server unavailable" and one log line a minute naming the cap', async () => {
    const first = await connect(gw.endpoints.tcp, { username: device.username, password: device.password, clientId: 'bench-1' });
    const second = await connect(gw.endpoints.tcp, { username: device.username, password: device.password, clientId: 'bench-2' });
    expect(await refusedWith(gw.endpoints.tcp, { username: device.username, password: device.password, clientId: 'bench-3' })).toBe(3);
    expect(await refusedWith(gw.endpoints.tcp, { username: device.username, password: device.password, clientId: 'bench-4' })).toBe(3);
    const capLines = logs.lines().filter((line) => String(line.msg).includes('MQTT_MAX_CONNECTIONS_PER_CREDENTIAL'));
    expect(capLines).toEqual([expect.objectContaining({ username: device.username, limit: 2, msg: expect.stringContaining('already has 2 connections') })]);
    await first.endAsync();
    // The gateway frees the credential's slot when it sees the socket close, the same moment its connection count drops:
    // polled for, rather than a sleep that a slow machine outlasts.
    await expect.poll(() => metric(gw.base, 'gatehouse_mqtt_connections'), { timeout: 10_000 }).toBe(1);
    const third = await connect(gw.endpoints.tcp, { username: device.username, password: device.password, clientId: 'bench-3' });
    expect(await metric(gw.base, 'gatehouse_mqtt_connections')).toBe(2);
    await Promise.all([second.endAsync(), third.endAsync()]);
  });
});
