import { createPublicKey } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { FakeApnsReport, FakeApnsSpec } from './fake-apns.js';

/**
 * APNs for the push bench, in a process of its own so that its CPU is
 * counted apart from the gateway's: HTTP/2 over TLS, `POST /3/device/<token>`
 * with the headers Apple requires and an ES256 provider token (kid, iss, iat
 * under an hour), answered 200. Each distinct provider token is verified once:
 * a sender reuses one for ~55 minutes, and a signature check per request would
 * measure the fake (test/support/push-fakes/fake-apns.ts checks every one).
 * https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const spec = JSON.parse(input) as FakeApnsSpec;
  const keys = new Map(Object.entries(spec.keys).map(([kid, pem]) => [kid, createPublicKey(pem)]));
  const verified = new Map<string, Promise<boolean>>();
  const report: FakeApnsReport = { requests: 0, accepted: 0, refused: {}, sessions: 0, firstAt: null, lastAt: null };

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

  const refuse = (stream: http2.ServerHttp2Stream, status: number, reason: string) => {
    report.refused[reason] = (report.refused[reason] ?? 0) + 1;
    stream.respond({ ':status': status, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ reason }));
  };

  const server = http2.createSecureServer({ cert: spec.cert, key: spec.key });
  server.on('session', () => report.sessions++);
  server.on('stream', (stream, headers) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => void (async () => {
      report.requests++;
      report.firstAt ??= Date.now();
      const authorization = String(headers.authorization ?? '');
      if (!authorization.startsWith('bearer ') || !(await verify(authorization.slice(7)))) return refuse(stream, 403, 'InvalidProviderToken');
      if (headers[':method'] !== 'POST' || !/^\/3\/device\/[0-9a-f]+$/.test(headers[':path'] ?? '')) return refuse(stream, 400, 'BadDeviceToken');
      if (!headers['apns-topic']) return refuse(stream, 400, 'MissingTopic');
      if (headers['apns-push-type'] !== 'alert') return refuse(stream, 400, 'InvalidPushType');
      if (bytes === 0 || bytes > 4096) return refuse(stream, bytes === 0 ? 400 : 413, bytes === 0 ? 'PayloadEmpty' : 'PayloadTooLarge');
      report.accepted++;
      report.lastAt = Date.now();
      stream.respond({ ':status': 200, 'apns-id': String(headers['apns-id'] ?? '') }, { endStream: true });
    })());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (message) => {
    if (message === 'report') process.send!(report);
  });
  process.send!({ port: (server.address() as AddressInfo).port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
