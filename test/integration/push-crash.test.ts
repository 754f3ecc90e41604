import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnEmbeddedGateway, type EmbeddedGateway } from '../support/embedded-gateway.js';
import { connect } from '../support/mqtt.js';
import { exitOf, runCli, waitFor } from '../support/processes.js';
import { FakeApns, type ApnsRequest } from '../support/push-fakes/fake-apns.js';
import { fakeTls } from '../support/push-fakes/push-tls.js';

const KEY_ID = 'KEY0000001';
const TEAM = 'TEAM000001';
const TOPIC = 'com.acme.app';
const PASSWORD = 'correct horse battery';
const PHONE = `${'c'.repeat(56)}00000001`;
/** Short, so the restarted gateway re-takes a dead process's lease without a 30 s wait. */
const LEASE_MS = 2_000;

type Delivery = { id: string; notification_id: string; state: string; attempts: number };

/**
 * The real gateway process (`gatehouse start` on its own embedded
 * PostgreSQL), SIGKILLed on either side of the provider's answer, and
 * started again on the same data. The fake APNs is in the test's process and
 * outlives both gateways. One gateway, one phone and one device for the file;
 * each test raises an alarm of its own kind and follows only its notification.
 */
describe('push across a killed gateway', () => {
  let gw: EmbeddedGateway;
  let apns: FakeApns;
  let dir: string;
  let device: { username: string; password: string };

  /** An alarm from the device over MQTT; PUBACK comes after the commit of the event and its notification. */
  async function raiseAlarm(kind: string): Promise<Delivery> {
    const client = await connect(gw.mqttUrl, { username: device.username, password: device.password });
    try {
      await client.publishAsync(`devices/siren/events/${kind}`, '{}', { qos: 1 });
    } finally {
      await client.endAsync(true);
    }
    const [delivery] = await deliveriesOf(kind);
    expect(delivery, `a delivery for ${kind}`).toBeDefined();
    return delivery!;
  }
  const deliveriesOf = (kind: string) => gw.query<Delivery>(
    `SELECT d.id, d.notification_id, d.state, d.attempts FROM push_deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE n.data->>'kind' = $1`, [kind]);
  const copiesOf = (delivery: Delivery) => apns.requests.filter((request) => request.headers['apns-collapse-id'] === delivery.notification_id);
  const sentOnce = async (kind: string) => waitFor(async () => {
    const rows = await deliveriesOf(kind);
    return rows.length === 1 && rows[0]!.state === 'sent' ? rows[0]! : undefined;
  }, 30_000, `the ${kind} delivery recorded as sent`);
  async function kill(): Promise<void> {
    gw.process.kill('SIGKILL');
    expect((await exitOf(gw.process)).signal).toBe('SIGKILL');
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'push-crash-'));
    const tls = await fakeTls();
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await writeFile(path.join(dir, 'ca.pem'), tls.ca);
    await writeFile(path.join(dir, 'AuthKey.p8'), key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    apns = await new FakeApns({ tls, teamId: TEAM, keys: { [KEY_ID]: key.publicKey } }).start();
    gw = await spawnEmbeddedGateway({
      PUSH_APNS_ENDPOINT: `127.0.0.1:${apns.port}`, PUSH_PROVIDER_CA: path.join(dir, 'ca.pem'), PUSH_LEASE_MS: String(LEASE_MS), PUSH_WORKERS: '1',
    });
    const cli = async (args: string[]) => {
      const result = await runCli([...args, '--json'], gw.env);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as Record<string, string>;
    };
    await cli(['tenant', 'create', 'crash']);
    await cli(['user', 'create', '--tenant', 'crash', '--email', 'owner@crash.test', '--password', PASSWORD, '--role', 'owner']);
    await cli(['push', 'credentials', 'set', '--tenant', 'crash', '--apns-key', path.join(dir, 'AuthKey.p8'), '--key-id', KEY_ID, '--team-id', TEAM, '--topic', TOPIC]);
    device = await cli(['device', 'create', '--tenant', 'crash', '--name', 'siren']) as typeof device;
    const login = await fetch(`${gw.base}/v1/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'owner@crash.test', password: PASSWORD, tenant: 'crash' }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const registered = await fetch(`${gw.base}/v1/push/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${access_token}` },
      body: JSON.stringify({ platform: 'ios', token: PHONE, appId: TOPIC, environment: 'production', locale: 'en' }),
    });
    expect(registered.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
    await apns?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('committed but never sent (no worker in the first process): the restarted gateway delivers it once', async () => {
    gw.process.kill('SIGTERM');
    await exitOf(gw.process);
    gw.env.PUSH_WORKERS = '0';
    await gw.start();
    try {
      const delivery = await raiseAlarm('alarm/unsent');
      expect(delivery).toMatchObject({ state: 'queued', attempts: 0 });
      await kill();
    } finally {
      gw.env.PUSH_WORKERS = '1';
    }
    await gw.start();
    const sent = await sentOnce('alarm/unsent');
    expect(sent.attempts).toBe(1);
    const copies = copiesOf(sent);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatchObject({ token: PHONE, answered: true, answer: { status: 200 } });
    expect(copies[0]!.headers['apns-id']).toBe(sent.id);
  }, 120_000);

  it('killed while the provider holds the request (leased, unanswered): after its lease runs out the restarted gateway delivers it once', async () => {
    const held: ApnsRequest[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    apns.hold = (request) => {
      held.push(request);
      return released;
    };
    try {
      const delivery = await raiseAlarm('alarm/held');
      await waitFor(async () => (held.some((request) => request.headers['apns-collapse-id'] === delivery.notification_id) ? true : undefined), 10_000, 'the request at the fake');
      expect((await deliveriesOf('alarm/held'))[0]).toMatchObject({ state: 'leased', attempts: 1 });
      await kill();
      // The kill closed the held request's stream: releasing it now answers nothing.
      await Promise.all(held.map((request) => request.closed));
    } finally {
      apns.hold = undefined;
      release();
    }
    await gw.start();
    const sent = await sentOnce('alarm/held');
    expect(sent.attempts).toBe(2);
    const copies = copiesOf(sent);
    expect(copies.map((copy) => [copy.answered, copy.answer.status])).toEqual([[false, 200], [true, 200]]);
    // The same delivery, sent again under the same collapse id: one notification on the phone.
    expect(new Set(copies.map((copy) => copy.headers['apns-id']))).toEqual(new Set([sent.id]));
  }, 120_000);

  it('killed after the provider\'s 200 and before the commit: the fake sees one extra copy, with the same collapse id', async () => {
    // The window is made wide, not hoped for: once the request is at the fake, the test locks the
    // delivery's row, so the gateway's settlement (the UPDATE that records "sent") waits on it
    // after the 200. The gateway is killed while it waits; its transaction never commits.
    let locker: pg.Client | undefined;
    let lockerPid = 0;
    let locked: string | undefined;
    apns.hold = async (request) => {
      if (locked) return;
      locked = request.headers['apns-id']!;
      locker = await gw.connect();
      lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM push_deliveries WHERE id = $1 FOR UPDATE', [locked]);
    };
    try {
      const delivery = await raiseAlarm('alarm/answered');
      await waitFor(async () => (copiesOf(delivery).some((copy) => copy.answered) ? true : undefined), 10_000, 'the fake\'s 200');
      expect(locked).toBe(delivery.id);
      // The gateway got the 200 and is recording it: its UPDATE waits for the test's lock.
      await waitFor(async () => ((await gw.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE push_deliveries d%' AND pid <> $1`, [lockerPid],
      )).length > 0 ? true : undefined), 10_000, 'the settlement waiting on the row');
      await kill();
    } finally {
      apns.hold = undefined;
      await locker?.query('ROLLBACK');
      await locker?.end();
    }
    // Nothing was recorded: the 200 is lost with the process.
    expect((await deliveriesOf('alarm/answered'))[0]).toMatchObject({ state: 'leased', attempts: 1 });
    await gw.start();
    const sent = await sentOnce('alarm/answered');
    expect(sent.attempts).toBe(2);
    const copies = copiesOf(sent);
    // At most one extra copy, and the phone collapses it: the same collapse id (the notification) and apns-id (the delivery).
    expect(copies.map((copy) => [copy.answered, copy.answer.status])).toEqual([[true, 200], [true, 200]]);
    expect(copies.map((copy) => copy.headers['apns-collapse-id'])).toEqual([sent.notification_id, sent.notification_id]);
    expect(copies.map((copy) => copy.headers['apns-id'])).toEqual([sent.id, sent.id]);
  }, 120_000);
});
