import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FCM_CODES } from '../../src/push/fcm/fcm-answers.js';
import { FcmSender } from '../../src/push/fcm/fcm-sender.js';
import type { ServiceAccount } from '../../src/push/fcm/service-account-token.js';
import { buildFcmPayload } from '../../src/push/payloads/fcm-payload.js';
import type { Notification, PushTarget, SendRequest } from '../../src/push/push-message.js';
import { FakeFcm } from '../support/push-fakes/fake-fcm.js';
import { fakeTls } from '../support/push-fakes/push-tls.js';

const PROJECT = 'acme-gatehouse';
const EMAIL = `push@${PROJECT}.iam.gserviceaccount.com`;
const TOKEN_PATH = `/token-${randomUUID()}`;
const TOKEN_URI = `https://oauth2.googleapis.com${TOKEN_PATH}`;

function rsaKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey };
}

function notification(extra: Partial<Notification> = {}): Notification {
  return { id: randomUUID(), type: 'device.alarm', tenantId: randomUUID(), deviceName: 'front-door', kind: 'smoke', critical: false, data: { room: 'hall' }, createdAt: new Date(), ...extra };
}

function request(token: string, n = notification()): SendRequest {
  const target: PushTarget = { deliveryId: randomUUID(), notificationId: n.id, token, platform: 'android', environment: 'production', tokenRegisteredAt: new Date() };
  return { target, payload: buildFcmPayload(n, 'de') };
}

/** The outcome each code must give, written out again rather than read from the table. */
const EXPECTED: Record<string, string> = {
  UNSPECIFIED_ERROR: 'retry', INVALID_ARGUMENT: 'rejected', UNREGISTERED: 'invalid-token', SENDER_ID_MISMATCH: 'rejected',
  QUOTA_EXCEEDED: 'retry', UNAVAILABLE: 'retry', INTERNAL: 'retry', THIRD_PARTY_AUTH_ERROR: 'credential-failure',
  UNAUTHENTICATED: 'credential-failure', PERMISSION_DENIED: 'credential-failure', RESOURCE_EXHAUSTED: 'retry',
  NOT_FOUND: 'rejected', DEADLINE_EXCEEDED: 'retry',
};
const CANONICAL: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };

describe('the FCM sender against an FCM v1 fake behind a fake OAuth2 token endpoint', () => {
  let fake: FakeFcm;
  let tls: Awaited<ReturnType<typeof fakeTls>>;
  let account: ServiceAccount;
  let sender: FcmSender;
  const senders: FcmSender[] = [];
  const senderFor = (a: ServiceAccount, port = fake.port) => {
    const made = new FcmSender(a, { connectTo: { host: '127.0.0.1', port }, ca: [tls.ca] });
    senders.push(made);
    return made;
  };

  beforeAll(async () => {
    tls = await fakeTls();
    const key = rsaKey();
    account = { project_id: PROJECT, client_email: EMAIL, private_key: key.pem, private_key_id: 'key-1', token_uri: TOKEN_URI };
    fake = await new FakeFcm({ tls, projectId: PROJECT, clientEmail: EMAIL, publicKey: key.publicKey, tokenPath: TOKEN_PATH, tokenUri: TOKEN_URI }).start();
    sender = senderFor(account);
  });
  afterAll(async () => {
    await Promise.all(senders.map((s) => s.close()));
    await fake?.stop();
  });
  beforeEach(() => fake.reset());

  it('delivers the message with the notification id as collapse key and string data', async () => {
    const sent = request('fcm-token-1');
    const [outcome] = await sender.send([sent]);
    expect(outcome).toMatchObject({ result: 'sent', providerId: expect.stringMatching(new RegExp(`^projects/${PROJECT}/messages/`)) });
    const [seen] = fake.requests;
    expect(seen?.message).toMatchObject({
      token: 'fcm-token-1',
      notification: { title: 'Alarm: front-door' },
      data: { notificationId: sent.target.notificationId, deepLink: 'gatehouse://devices/front-door', room: 'hall', type: 'device.alarm' },
      android: { collapse_key: sent.target.notificationId, priority: 'high', ttl: '86400s', notification: { click_action: 'gatehouse://devices/front-door', tag: sent.target.notificationId } },
    });
  });

  it('fetches the access token once, with an assertion the token endpoint verifies, and reuses it', async () => {
    const own = senderFor(account);
    await own.send([request('t1'), request('t2')]);
    await own.send([request('t3')]);
    await own.send([request('t4'), request('t5')]);
    expect(own.tokenFetches).toBe(1);
    expect(fake.assertions).toHaveLength(1);
    expect(fake.assertions[0]).toMatchObject({ iss: EMAIL, aud: TOKEN_URI });
    expect(new Set(fake.requests.map((r) => r.accessToken)).size).toBe(1);
    expect(fake.requests.map((r) => r.answer.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('answers each FCM error code with its outcome (one batch, one token per code)', async () => {
    const requests = FCM_CODES.map((row) => {
      fake.answerFor(`code-${row.code}`, { status: row.status, canonical: CANONICAL[row.status] ?? 'UNKNOWN', ...(row.code === CANONICAL[row.status] ? {} : { errorCode: row.code }) });
      return request(`code-${row.code}`);
    });
    const outcomes = await sender.send(requests);
    expect(Object.fromEntries(FCM_CODES.map((row, i) => [row.code, outcomes[i]?.result]))).toEqual(EXPECTED);
    expect(Object.fromEntries(FCM_CODES.map((row, i) => [row.code, (outcomes[i] as { reason?: string }).reason]))).toEqual(Object.fromEntries(FCM_CODES.map((row) => [row.code, row.code])));
    // firebase-admin's own retries are off: one request per message, whatever the answer.
    expect(fake.requests).toHaveLength(FCM_CODES.length);
  });

  it('invalidates a token FCM calls not valid, and keeps one for a message INVALID_ARGUMENT', async () => {
    fake.answerFor('bad-token', { status: 400, errorCode: 'INVALID_ARGUMENT', message: 'The registration token is not a valid FCM registration token' });
    fake.answerFor('bad-message', { status: 400, errorCode: 'INVALID_ARGUMENT', message: "Invalid value at 'message.android.ttl'" });
    expect(await sender.send([request('bad-token'), request('bad-message')])).toEqual([
      { result: 'invalid-token', reason: 'INVALID_ARGUMENT' },
      { result: 'rejected', reason: 'INVALID_ARGUMENT' },
    ]);
  });

  it('passes Retry-After on as a floor, and at least 60 s after QUOTA_EXCEEDED', async () => {
    fake.answerFor('quota', { status: 429, errorCode: 'QUOTA_EXCEEDED', retryAfter: '5' });
    fake.answerFor('busy', { status: 503, errorCode: 'UNAVAILABLE', retryAfter: '7' });
    expect(await sender.send([request('quota'), request('busy')])).toEqual([
      { result: 'retry', reason: 'QUOTA_EXCEEDED', retryAfterMs: 60_000 },
      { result: 'retry', reason: 'UNAVAILABLE', retryAfterMs: 7000 },
    ]);
    expect(fake.requests).toHaveLength(2);
  });

  it('answers credential failure when FCM refuses the access token', async () => {
    const own = senderFor(account);
    await own.send([request('t1')]);
    fake.revokeAccessTokens();
    expect(await own.send([request('t1')])).toEqual([{ result: 'credential-failure', reason: 'UNAUTHENTICATED' }]);
    // When the caller resumes the lane, the sender asks for a new access token.
    expect((await own.send([request('t1')]))[0]?.result).toBe('sent');
    expect(own.tokenFetches).toBe(2);
  });

  it('answers credential failure when the token endpoint refuses the service account, without sending', async () => {
    const stranger = senderFor({ ...account, private_key: rsaKey().pem });
    expect(await stranger.send([request('t1'), request('t2')])).toEqual([
      { result: 'credential-failure', reason: 'AccessTokenRefused' },
      { result: 'credential-failure', reason: 'AccessTokenRefused' },
    ]);
    expect(fake.requests).toHaveLength(0);
    const broken = senderFor({ ...account, private_key: 'not a key' });
    expect(await broken.send([request('t1')])).toEqual([{ result: 'credential-failure', reason: 'AccessTokenRefused' }]);
  });

  it('answers retry when the token endpoint fails, and sends once it answers again', async () => {
    const own = senderFor(account);
    fake.tokenAnswer = { status: 503, error: 'backendError' };
    expect(await own.send([request('t1')])).toEqual([{ result: 'retry', reason: 'AccessTokenUnavailable' }]);
    fake.tokenAnswer = undefined;
    expect((await own.send([request('t1')]))[0]?.result).toBe('sent');
  });

  it('answers retry when FCM cannot be reached, and after close', async () => {
    const own = senderFor(account);
    await own.send([request('t1')]);
    const unreachable = senderFor(account, 1);
    expect(await unreachable.send([request('t1')])).toEqual([{ result: 'retry', reason: 'AccessTokenUnavailable' }]);
    await own.close();
    expect(await own.send([request('t1')])).toEqual([{ result: 'retry', reason: 'SenderClosed' }]);
  });
});
