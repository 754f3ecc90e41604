import { createPublicKey, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import type { FakeFcmSpec } from './fake-fcm.js';
import { runFake } from './fake-process.js';

/**
 * FCM HTTP v1 and the service account's OAuth2 token endpoint for the push
 * bench, in a process of its own: HTTPS (HTTP/1.1, as firebase-admin's
 * `send()` speaks it), `POST <token_uri>` takes the JWT bearer grant whose
 * RS256 assertion it verifies (issuer, audience, scope) and issues an access
 * token; `POST /v1/projects/<id>/messages:send` checks that token, the
 * project and the message (a token, string data) and answers `{ name }`.
 * https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send
 */
runFake<FakeFcmSpec>(async (spec, report) => {
  const publicKey = createPublicKey(spec.publicKey);
  const issued = new Set<string>();
  const sendPath = `/v1/projects/${spec.projectId}/messages:send`;

  const refuse = (res: ServerResponse, status: number, canonical: string) => {
    report.refused[canonical] = (report.refused[canonical] ?? 0) + 1;
    reply(res, status, { error: { code: status, message: canonical, status: canonical, details: [] } });
  };

  const token = async (body: string, res: ServerResponse) => {
    const form = new URLSearchParams(body);
    try {
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error('unsupported_grant_type');
      const { payload } = await jwtVerify(form.get('assertion') ?? '', publicKey, { algorithms: ['RS256'], issuer: spec.clientEmail, audience: spec.tokenUri, maxTokenAge: '1h' });
      if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('invalid_scope');
    } catch {
      return reply(res, 400, { error: 'invalid_grant' });
    }
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    issued.add(accessToken);
    reply(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  };

  const send = (req: IncomingMessage, body: string, res: ServerResponse) => {
    report.requests++;
    report.firstAt ??= Date.now();
    if (!issued.has(String(req.headers.authorization ?? '').replace(/^Bearer /, ''))) return refuse(res, 401, 'UNAUTHENTICATED');
    let message: { token?: unknown; data?: Record<string, unknown> } | undefined;
    try {
      message = (JSON.parse(body) as { message?: typeof message }).message;
    } catch {
      message = undefined;
    }
    const stringData = Object.values(message?.data ?? {}).every((value) => typeof value === 'string');
    if (typeof message?.token !== 'string' || message.token.length === 0 || !stringData) return refuse(res, 400, 'INVALID_ARGUMENT');
    report.accepted++;
    report.lastAt = Date.now();
    reply(res, 200, { name: `projects/${spec.projectId}/messages/${randomBytes(8).toString('hex')}` });
  };

  const server = https.createServer({ cert: spec.cert, key: spec.key, keepAliveTimeout: 60_000 }, (req, res) => void (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'POST' && req.url === spec.tokenPath) return token(body, res);
    if (req.method === 'POST' && req.url === sendPath) return send(req, body, res);
    refuse(res, 404, 'NOT_FOUND');
  })());
  server.on('secureConnection', () => report.sessions++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
});

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}
