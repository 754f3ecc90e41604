import { randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { FakeGoogleOAuth, HttpsFake, reply } from '../fake-google-oauth.js';

/** An FCM v1 error on demand: the HTTP status, the FcmError errorCode and the canonical status. */
export type ScriptedFcmAnswer = { status: number; errorCode?: string; canonical?: string; message?: string; retryAfter?: string };

export type FcmRequest = { token: string; message: Record<string, unknown>; accessToken: string; answer: ScriptedFcmAnswer };

export type FakeFcmOptions = {
  tls: { cert: string; key: string };
  projectId: string;
  clientEmail: string;
  /** The public key of the service account the test made. */
  publicKey: KeyObject;
  /** The path of the service account's token_uri. */
  tokenPath: string;
  /** The full token_uri: the assertion's audience. */
  tokenUri: string;
};

const CANONICAL: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

/**
 * FCM HTTP v1 behind a Google-style OAuth2 token endpoint, over HTTPS:
 * `POST <token_uri>` takes the JWT bearer grant (RFC 7523) whose RS256
 * assertion it verifies against the service account's key, and
 * `POST /v1/projects/<id>/messages:send` answers `{ name }` or the real error
 * body (`{ error: { code, message, status, details: [FcmError] } }`).
 */
export class FakeFcm extends HttpsFake {
  readonly requests: FcmRequest[] = [];
  private readonly oauth: FakeGoogleOAuth;
  private readonly byToken = new Map<string, ScriptedFcmAnswer>();
  private readonly queue: ScriptedFcmAnswer[] = [];

  constructor(private readonly options: FakeFcmOptions) {
    super(options.tls);
    this.oauth = new FakeGoogleOAuth({ clientEmail: options.clientEmail, publicKey: options.publicKey, audience: options.tokenUri, scope: 'https://www.googleapis.com/auth/firebase.messaging' });
  }

  get assertions(): JWTPayload[] {
    return this.oauth.assertions;
  }

  set tokenAnswer(answer: { status: number; error: string } | undefined) {
    this.oauth.tokenAnswer = answer;
  }

  answerFor(token: string, answer: ScriptedFcmAnswer): void {
    this.byToken.set(token, answer);
  }

  enqueue(...answers: ScriptedFcmAnswer[]): void {
    this.queue.push(...answers);
  }

  /** Forgets what was asked and scripted; access tokens already issued stay valid. */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.byToken.clear();
    this.oauth.reset();
  }

  /** Makes every access token issued so far invalid (a revoked grant). */
  revokeAccessTokens(): void {
    this.oauth.revokeAccessTokens();
  }

  protected async route(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    if (req.method === 'POST' && req.url === this.options.tokenPath) return this.oauth.token(body, res);
    const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
    if (req.method === 'POST' && send) return this.send(send[1]!, req, body, res);
    reply(res, 404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
  }

  private send(projectId: string, req: IncomingMessage, body: string, res: ServerResponse): void {
    const accessToken = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    const message = (JSON.parse(body) as { message?: Record<string, unknown> }).message ?? {};
    const token = typeof message.token === 'string' ? message.token : '';
    const answer: ScriptedFcmAnswer = !this.oauth.accepts(req.headers.authorization)
      ? { status: 401, canonical: 'UNAUTHENTICATED', message: 'Request had invalid authentication credentials.' }
      : projectId !== this.options.projectId
        ? { status: 403, canonical: 'PERMISSION_DENIED', message: 'Permission denied on resource project.' }
        : this.queue.shift() ?? this.byToken.get(token) ?? { status: 200 };
    this.requests.push({ token, message, accessToken, answer });
    if (answer.status === 200) return reply(res, 200, { name: `projects/${projectId}/messages/${randomBytes(8).toString('hex')}` });
    const details = answer.errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: answer.errorCode }] : [];
    const headers: Record<string, string> = answer.retryAfter !== undefined ? { 'retry-after': answer.retryAfter } : {};
    reply(res, answer.status, { error: { code: answer.status, message: answer.message ?? 'error', status: answer.canonical ?? CANONICAL[answer.status] ?? 'UNKNOWN', details } }, headers);
  }
}
