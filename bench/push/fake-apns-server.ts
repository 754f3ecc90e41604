import { createPublicKey } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { ApnsArrival, FakeApnsSpec } from './fake-apns.js';
import { runFake } from './fake-process.js';

/**
 * APNs for the push bench and the fairness test, in a process of its own so
 * that its CPU is counted apart from the gateway's and its work is not done on
 * the test's event loop: HTTP/2 over TLS, `POST /3/device/<token>` with the
 * headers Apple requires and an ES256 provider token (kid, iss, iat under an
 * hour), answered 200 or as scripted for the topic. Each distinct provider
 * token is verified once: a sender reuses one for ~55 minutes, and a signature
 * check per request would measure the fake (test/support/push-fakes/fake-apns.ts
 * checks every one).
 * https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
runFake<FakeApnsSpec, ApnsArrival>(async (spec, report, notify) => {
  const keys = new Map(Object.entries(spec.keys).map(([kid, pem]) => [kid, createPublicKey(pem)]));
  const verified = new Map<string, Promise<boolean>>();

  const verify = (jwt: string): Promise<boolean> => {
    let result = verified.get(jwt);
    if (!result) {
      result = (async () => {
        const { kid, alg } = decodeProtectedHeader(jwt);
        const key = kid ? keys.get(kid) : undefined;
        if (alg !== 'ES256' || !key) return false;
        const { payload } = await jwtVerify(jwt, key, { algorithms: ['ES256'], issuer: spec.teamId });
        return typeof payload.iat === 'number' && Date.now() / 1000 - payload.iat <= 3600;
      })().catch(() => false);
      verified.set(jwt, result);
    }
    return result;
  };

  const server = http2.createSecureServer({ cert: spec.cert, key: spec.key });
  server.on('session', () => report.sessions++);
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => void (async () => {
      const receivedAt = Date.now();
      report.requests++;
      report.firstAt ??= receivedAt;
      const body = Buffer.concat(chunks);
      const topic = String(headers['apns-topic'] ?? '');
      const token = /^\/3\/device\/([0-9a-f]+)$/.exec(headers[':path'] ?? '')?.[1];
      const authorization = String(headers.authorization ?? '');
      const answer: { status: number; reason?: string; retryAfter?: string } = !authorization.startsWith('bearer ') || !(await verify(authorization.slice(7))) ? { status: 403, reason: 'InvalidProviderToken' }
        : headers[':method'] !== 'POST' || !token ? { status: 400, reason: 'BadDeviceToken' }
          : !topic ? { status: 400, reason: 'MissingTopic' }
            : headers['apns-push-type'] !== 'alert' ? { status: 400, reason: 'InvalidPushType' }
              : body.length === 0 ? { status: 400, reason: 'PayloadEmpty' }
                : body.length > 4096 ? { status: 413, reason: 'PayloadTooLarge' }
                  : spec.answers?.[topic] ?? { status: 200 };
      if (answer.status === 200) {
        report.accepted++;
        report.lastAt = receivedAt;
        stream.respond({ ':status': 200, 'apns-id': String(headers['apns-id'] ?? '') }, { endStream: true });
      } else {
        report.refused[answer.reason!] = (report.refused[answer.reason!] ?? 0) + 1;
        stream.respond({ ':status': answer.status, 'content-type': 'application/json', ...(answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}) });
        stream.end(JSON.stringify({ reason: answer.reason }));
      }
      if (spec.notify) notify({ topic, token: token ?? '', status: answer.status, receivedAt, kind: kindOf(body) });
    })());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
});

/** The event kind a Gatehouse payload carries (the fairness test tells its alarms apart by it). */
function kindOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { gatehouse?: { kind?: string } }).gatehouse?.kind;
  } catch {
    return undefined;
  }
}
