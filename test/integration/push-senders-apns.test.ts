import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { APNS_REASONS } from '../../src/push/apns/apns-answers.js';
import { ApnsSender, type ApnsCredential } from '../../src/push/apns/apns-sender.js';
import { buildApnsPayload } from '../../src/push/payloads/apns-payload.js';
import type { Notification, PushTarget, SendRequest } from '../../src/push/push-message.js';
import { FakeApns } from '../support/push-fakes/fake-apns.js';
import { fakeTls } from '../support/push-fakes/push-tls.js';

const TEAM = 'TEAM123456';
const KEY_ID = 'KEY1234567';
const TOPIC = 'com.acme.gatehouse';
const REGISTERED = new Date('2026-01-01T00:00:00Z');

function p8(): { signingKey: string; publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'] } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

function notification(extra: Partial<Notification> = {}): Notification {
  return { id: randomUUID(), type: 'device.alarm', tenantId: randomUUID(), deviceName: 'front-door', kind: 'smoke', critical: false, data: {}, createdAt: new Date(), ...extra };
}

function request(token: string, extra: Partial<PushTarget> = {}, n = notification()): SendRequest {
  const target: PushTarget = { deliveryId: randomUUID(), notificationId: n.id, token, platform: 'ios', environment: 'sandbox', tokenRegisteredAt: REGISTERED, ...extra };
  return { target, payload: buildApnsPayload(n, 'en') };
}

/** The outcome each documented reason must give, written out again rather than read from the table. */
const EXPECTED: Record<string, string> = {
  BadCollapseId: 'rejected', BadDeviceToken: 'invalid-token', BadExpirationDate: 'rejected', BadMessageId: 'rejected',
  BadPriority: 'rejected', BadTopic: 'rejected', DeviceTokenNotForTopic: 'rejected', DuplicateHeaders: 'rejected',
  IdleTimeout: 'retry', InvalidPushType: 'rejected', MissingDeviceToken: 'rejected', MissingTopic: 'rejected',
  PayloadEmpty: 'rejected', TopicDisallowed: 'rejected', BadCertificate: 'credential-failure',
  BadCertificateEnvironment: 'credential-failure', Forbidden: 'credential-failure', InvalidProviderToken: 'credential-failure',
  MissingProviderToken: 'credential-failure', UnrelatedKeyIdInToken: 'credential-failure', BadEnvironmentKeyInToken: 'credential-failure',
  BadPath: 'rejected', MethodNotAllowed: 'rejected', ExpiredToken: 'invalid-token', Unregistered: 'invalid-token',
  PayloadTooLarge: 'rejected', TooManyProviderTokenUpdates: 'retry', TooManyRequests: 'retry', InternalServerError: 'retry',
  ServiceUnavailable: 'retry', Shutdown: 'retry',
};

describe('the APNs sender against an HTTP/2 APNs fake', () => {
  let fake: FakeApns;
  let tls: Awaited<ReturnType<typeof fakeTls>>;
  let credential: ApnsCredential;
  let sender: ApnsSender;
  const senderFor = (c: ApnsCredential, port = fake.port) =>
    new ApnsSender(c, { endpoints: { sandbox: { address: 'localhost', port, ca: [tls.ca] }, production: { address: '127.0.0.1', port, ca: [tls.ca] } } });

  beforeAll(async () => {
    tls = await fakeTls();
    const key = p8();
    credential = { signingKey: key.signingKey, keyId: KEY_ID, teamId: TEAM, topic: TOPIC };
    fake = await new FakeApns({ tls, teamId: TEAM, keys: { [KEY_ID]: key.publicKey } }).start();
    sender = senderFor(credential);
  });
  afterAll(async () => {
    await sender?.close();
    await fake?.stop();
  });
  beforeEach(() => fake.reset());

  it('delivers with a provider token the fake verifies, and the headers Apple requires', async () => {
    const n = notification({ type: 'approval.requested', commandId: randomUUID(), commandName: 'factory_reset' });
    const sent = request('a1b2c3', {}, n);
    expect(await sender.send([sent])).toEqual([{ result: 'sent', providerId: sent.target.deliveryId }]);
    const [seen] = fake.requests;
    expect(seen?.answer.status).toBe(200);
    expect(seen?.claims?.iss).toBe(TEAM);
    expect(seen?.headers).toMatchObject({
      'apns-id': sent.target.deliveryId, 'apns-collapse-id': n.id, 'apns-topic': TOPIC, 'apns-push-type': 'alert', 'apns-priority': '10',
      'apns-expiration': String(Math.floor((sent.payload as { expiresAt: Date }).expiresAt.getTime() / 1000)),
    });
    expect(seen?.body).toEqual(JSON.parse((sent.payload as { body: string }).body));
    expect(seen?.body).toMatchObject({ aps: { category: 'GATEHOUSE_APPROVAL' }, gatehouse: { commandId: n.commandId } });
  });

  it('answers each documented reason with its outcome (one batch, one token per reason)', async () => {
    // ExpiredProviderToken has tests of its own: the sender sends again, and a 500 in the
    // same batch makes node-apn close the connection that second request would use.
    const rows = APNS_REASONS.filter((row) => row.reason !== 'ExpiredProviderToken');
    const requests = rows.map((row) => {
      const token = `${row.reason.length.toString(16)}${Buffer.from(row.reason).toString('hex')}`;
      fake.answerFor(token, { status: row.status, reason: row.reason });
      return request(token);
    });
    const outcomes = await sender.send(requests);
    const byReason = Object.fromEntries(rows.map((row, i) => [row.reason, outcomes[i]?.result]));
    expect(byReason).toEqual(EXPECTED);
    expect(fake.requests).toHaveLength(rows.length);
  });

  it('invalidates on 410 with its timestamp only when the token was registered before it', async () => {
    const gone = REGISTERED.getTime() + 60_000;
    fake.answerFor('dead01', { status: 410, reason: 'Unregistered', timestamp: gone });
    const [old] = await sender.send([request('dead01')]);
    expect(old).toEqual({ result: 'invalid-token', reason: 'Unregistered', unregisteredAt: new Date(gone) });
    const [renewed] = await sender.send([request('dead01', { tokenRegisteredAt: new Date(gone + 1000) })]);
    expect(renewed).toEqual({ result: 'rejected', reason: 'UnregisteredBeforeRegistration' });
  });

  it('answers 429 with retry and its Retry-After, never retrying by itself', async () => {
    fake.answerFor('busy01', { status: 429, reason: 'TooManyRequests', retryAfter: '30' });
    fake.answerFor('busy02', { status: 503, reason: 'ServiceUnavailable' });
    expect(await sender.send([request('busy01'), request('busy02')])).toEqual([
      { result: 'retry', reason: 'TooManyRequests', retryAfterMs: 30_000 },
      { result: 'retry', reason: 'ServiceUnavailable' },
    ]);
    expect(fake.requests).toHaveLength(2);
  });

  it('renews the provider token after ExpiredProviderToken and sends once more', async () => {
    fake.enqueue({ status: 403, reason: 'ExpiredProviderToken' });
    const sent = request('renew01');
    expect(await sender.send([sent])).toEqual([{ result: 'sent', providerId: sent.target.deliveryId }]);
    expect(fake.requests.map((r) => r.answer.status)).toEqual([403, 200]);
    const [first, second] = fake.requests;
    expect(second?.providerToken).not.toBe(first?.providerToken);
    expect(second?.claims?.iss).toBe(TEAM);
    expect(second?.headers['apns-id']).toBe(sent.target.deliveryId);
  });

  it('answers credential failure when a renewed provider token is still called expired (a wrong clock)', async () => {
    fake.answerFor('renew02', { status: 403, reason: 'ExpiredProviderToken' });
    expect(await sender.send([request('renew02')])).toEqual([{ result: 'credential-failure', reason: 'ExpiredProviderToken' }]);
    expect(fake.requests).toHaveLength(2);
  });

  it('refuses a provider token signed by a key the fake does not know: credential failure', async () => {
    const stranger = senderFor({ ...credential, signingKey: p8().signingKey });
    try {
      expect(await stranger.send([request('a1b2c3')])).toEqual([{ result: 'credential-failure', reason: 'InvalidProviderToken' }]);
    } finally {
      await stranger.close();
    }
  });

  it('answers credential failure for a signing key node-apn cannot use', async () => {
    const broken = senderFor({ ...credential, signingKey: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----' });
    expect(await broken.send([request('a1b2c3')])).toEqual([{ result: 'credential-failure', reason: 'InvalidSigningKey' }]);
    await broken.close();
    expect(fake.requests).toHaveLength(0);
  });

  it('keeps one connection per environment across batches', async () => {
    const own = senderFor(credential);
    const before = fake.sessions;
    try {
      await own.send([request('c0ffee'), request('c0ffee', { environment: 'production' })]);
      await own.send([request('c0ffee'), request('c0ffee', { environment: 'production' })]);
      expect(fake.sessions - before).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('answers retry when APNs cannot be reached, and after close', async () => {
    const closedPort = new ApnsSender(credential, { endpoints: { sandbox: { address: 'localhost', port: 1, ca: [tls.ca] } }, closeTimeoutMs: 100 });
    expect(await closedPort.send([request('c0ffee')])).toEqual([{ result: 'retry', reason: 'TransportError' }]);
    await closedPort.close();
    expect(await closedPort.send([request('c0ffee')])).toEqual([{ result: 'retry', reason: 'SenderClosed' }]);
  });
});

describe('the APNs fake checks what Apple checks', () => {
  let fake: FakeApns;
  let tls: Awaited<ReturnType<typeof fakeTls>>;
  let signingKey: string;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    tls = await fakeTls();
    const key = p8();
    signingKey = key.signingKey;
    fake = await new FakeApns({ tls, teamId: TEAM, keys: { [KEY_ID]: key.publicKey } }).start();
    session = http2.connect(`https://localhost:${fake.port}`, { ca: tls.ca });
  });
  afterAll(async () => {
    session?.close();
    await fake?.stop();
  });

  const jwt = (iat: number, teamId = TEAM) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: KEY_ID }).setIssuer(teamId).setIssuedAt(iat).sign(createPrivateKey(signingKey));

  async function post(headers: http2.OutgoingHttpHeaders, body = '{"aps":{"alert":"hi"}}'): Promise<{ status: number; reason?: string }> {
    const stream = session.request({ ':method': 'POST', ':path': '/3/device/abcd', ...headers });
    stream.end(body);
    const [answer] = (await new Promise((resolve) => stream.once('response', (h) => resolve([h])))) as [http2.IncomingHttpHeaders];
    let text = '';
    for await (const chunk of stream) text += chunk;
    return { status: Number(answer[':status']), ...(text ? { reason: (JSON.parse(text) as { reason: string }).reason } : {}) };
  }

  const now = () => Math.floor(Date.now() / 1000);
  const required = { 'apns-topic': TOPIC, 'apns-push-type': 'alert' };

  it('accepts a fresh token with the required headers', async () => {
    expect(await post({ ...required, authorization: `bearer ${await jwt(now())}` })).toEqual({ status: 200 });
  });

  it('refuses a token issued more than an hour ago, another team, none at all', async () => {
    expect(await post({ ...required, authorization: `bearer ${await jwt(now() - 3700)}` })).toEqual({ status: 403, reason: 'ExpiredProviderToken' });
    expect(await post({ ...required, authorization: `bearer ${await jwt(now(), 'OTHERTEAM1')}` })).toEqual({ status: 403, reason: 'InvalidProviderToken' });
    expect(await post({ ...required })).toEqual({ status: 403, reason: 'MissingProviderToken' });
  });

  it('refuses a request without apns-topic or apns-push-type, a bad apns-id, a payload over 4096 bytes', async () => {
    const authorization = `bearer ${await jwt(now())}`;
    expect(await post({ authorization, 'apns-push-type': 'alert' })).toEqual({ status: 400, reason: 'MissingTopic' });
    expect(await post({ authorization, 'apns-topic': TOPIC })).toEqual({ status: 400, reason: 'InvalidPushType' });
    expect(await post({ ...required, authorization, 'apns-id': 'not-a-uuid' })).toEqual({ status: 400, reason: 'BadMessageId' });
    expect(await post({ ...required, authorization }, JSON.stringify({ aps: { alert: 'x'.repeat(4100) } }))).toEqual({ status: 413, reason: 'PayloadTooLarge' });
  });
});
