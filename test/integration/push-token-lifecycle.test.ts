import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, until } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';
import { FakeApns } from '../support/push-fakes/fake-apns.js';
import { FakeFcm } from '../support/push-fakes/fake-fcm.js';
import { fakeTls } from '../support/push-fakes/push-tls.js';

const KEY_ID = 'KEY0000002';
const TEAM = 'TEAM000002';
const PROJECT = 'acme-gatehouse';
const TOKEN_PATH = `/token-${randomUUID()}`;

/**
 * A token's life through the real gateway: an Android phone served by FCM v1
 * (behind its OAuth2 token endpoint), a token FCM calls UNREGISTERED, and an
 * APNs 410 whose timestamp decides whether a re-registered token lives on.
 */
describe('push tokens over their life, through both providers', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let apns: FakeApns;
  let fcm: FakeFcm;
  let dir: string;
  let client: MqttClient;
  let alarms = 0;
  let person: { id: string; token: string };

  const register = (platform: 'ios' | 'android', token: string) =>
    call<{ active: boolean }>(gw.base, 'POST', '/v1/push/tokens', { token: person.token, body: { platform, token, appId: 'com.acme.app', environment: 'production', locale: 'en' } });
  const active = async (token: string) => (await call<{ token: string; active: boolean }[]>(gw.base, 'GET', '/v1/push/tokens', { token: person.token })).body.find((t) => t.token === token)?.active;
  /** An alarm from the device; resolves once its notification is in the person's history (committed with the event). */
  async function alarm(): Promise<string> {
    const kind = `alarm/n${++alarms}`;
    await client.publishAsync('devices/siren-1/events/' + kind, '{}', { qos: 1 });
    const history = (await call<{ items: { id: string; data: Record<string, string> }[] }>(gw.base, 'GET', '/v1/notifications', { token: person.token })).body.items;
    return history.find((item) => item.data.kind === kind)!.id;
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'push-life-'));
    const tls = await fakeTls();
    await writeFile(path.join(dir, 'ca.pem'), tls.ca);
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    apns = await new FakeApns({ tls, teamId: TEAM, keys: { [KEY_ID]: ec.publicKey } }).start();
    const clientEmail = `push@${PROJECT}.iam.gserviceaccount.com`;
    const tokenUri = `https://oauth2.googleapis.com${TOKEN_PATH}`;
    fcm = await new FakeFcm({ tls, projectId: PROJECT, clientEmail, publicKey: rsa.publicKey, tokenPath: TOKEN_PATH, tokenUri }).start();
    gw = await startBrokerGateway({
      PUSH_APNS_ENDPOINT: `127.0.0.1:${apns.port}`, PUSH_FCM_ENDPOINT: `127.0.0.1:${fcm.port}`,
      PUSH_PROVIDER_CA: path.join(dir, 'ca.pem'), PUSH_CREDENTIAL_KEYRING: path.join(dir, 'push.key'),
    });
    const tenant = await gw.tenant('life');
    // The APNs key is the tenant's own; FCM comes from the platform-wide default.
    await gw.gateway.core.pushCredentials.set(tenant.id, { provider: 'apns', signingKey: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: KEY_ID, teamId: TEAM, topic: 'com.acme.app' });
    await gw.gateway.core.pushCredentials.set(null, { provider: 'fcm', serviceAccount: { project_id: PROJECT, client_email: clientEmail, private_key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: tokenUri } });
    person = await gw.user('life', 'owner@life.test', 'owner');
    const siren = await gw.device('life', 'siren-1');
    client = await connect(gw.endpoints.tcp, { username: siren.username, password: siren.password });
  });
  afterAll(async () => {
    await client?.endAsync(true);
    await gw?.close();
    await Promise.all([apns?.stop(), fcm?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('admins see which credentials are in use, by fingerprint, never the key', async () => {
    const listed = await call<{ provider: string; source: string; fingerprint: string; settings: Record<string, string> }[]>(gw.base, 'GET', '/v1/push/credentials', { token: person.token });
    expect(listed.body).toEqual([
      expect.objectContaining({ provider: 'apns', source: 'tenant', settings: { keyId: KEY_ID, teamId: TEAM, topic: 'com.acme.app' } }),
      expect.objectContaining({ provider: 'fcm', source: 'platform', settings: expect.objectContaining({ projectId: PROJECT }) }),
    ]);
    expect(JSON.stringify(listed.body)).not.toMatch(/PRIVATE KEY/);
  });

  it('an Android phone gets the alarm through FCM v1 with the platform\'s credential; UNREGISTERED disables its token', async () => {
    const android = `fcm-${randomUUID()}`;
    expect((await register('android', android)).status).toBe(201);
    const first = await alarm();
    await until(() => fcm.requests.some((r) => r.token === android), 10_000, 'the alarm at FCM');
    const seen = fcm.requests.find((r) => r.token === android)!;
    expect(seen.message).toMatchObject({ notification: { title: 'Alarm: siren-1' }, android: { collapse_key: first }, data: { notificationId: first, type: 'device.alarm' } });

    fcm.answerFor(android, { status: 404, errorCode: 'UNREGISTERED' });
    await alarm();
    await waitFor(async () => ((await active(android)) === false ? true : undefined), 10_000, 'the FCM token disabled');
  });

  it('an APNs 410 disables a token registered before its timestamp; registered again after it, the token lives on', async () => {
    const iphone = '1'.repeat(64);
    expect((await register('ios', iphone)).status).toBe(201);
    apns.answerFor(iphone, { status: 410, reason: 'Unregistered', timestamp: Date.now() + 60_000 });
    await alarm();
    await waitFor(async () => ((await active(iphone)) === false ? true : undefined), 10_000, 'the iPhone token disabled');

    // The app registers the token again; APNs goes on answering a 410 from before that: it was about the older registration.
    apns.answerFor(iphone, { status: 410, reason: 'Unregistered', timestamp: Date.now() - 120_000 });
    expect((await register('ios', iphone)).body.active).toBe(true);
    const before = apns.requests.filter((r) => r.token === iphone).length;
    await alarm();
    await until(() => apns.requests.filter((r) => r.token === iphone).length === before + 1, 10_000, 'the next alarm at APNs');
    // The answer was the stale 410: the delivery is dropped, the token kept. The marker is the notification after it.
    apns.answerFor(iphone, { status: 200 });
    await alarm();
    await until(() => apns.requests.filter((r) => r.token === iphone).length === before + 2, 10_000, 'the marker alarm at APNs');
    expect(await active(iphone)).toBe(true);
  });
});
