import { randomUUID, type KeyObject } from 'node:crypto';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';

/** An answer the fake gives on demand: any status and reason of Apple's table. */
export type ScriptedApnsAnswer = { status: number; reason?: string; timestamp?: number; retryAfter?: string };

export type ApnsRequest = {
  token: string;
  headers: Record<string, string>;
  body: unknown;
  providerToken: string;
  claims?: JWTPayload;
  answer: ScriptedApnsAnswer;
  /** When the request was read (Date.now()). */
  receivedAt: number;
  /** Whether its answer was written: a request held until its client went away never is. */
  answered: boolean;
  /** Settles when its stream closes: answered, or its client went away (a killed gateway). */
  closed: Promise<void>;
};

export type FakeApnsOptions = {
  tls: { cert: string; key: string };
  teamId: string;
  /** The public keys of the .p8 keys the test made, by key id. */
  keys: Record<string, KeyObject>;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PUSH_TYPES = new Set(['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'location', 'liveactivity', 'pushtotalk', 'widgets']);
const MAX_PAYLOAD = 4096;

/**
 * APNs over HTTP/2 and TLS, as Apple documents it: `POST /3/device/<token>`
 * with a bearer ES256 provider token (kid header, iss = team id, iat under an
 * hour old) and the apns-* headers; every request is recorded.
 * https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
 */
export class FakeApns {
  readonly requests: ApnsRequest[] = [];
  private readonly byToken = new Map<string, ScriptedApnsAnswer>();
  private readonly byTopic = new Map<string, ScriptedApnsAnswer>();
  /**
   * Set by a test: runs once a request is read and recorded, before it is
   * answered, and the answer waits for it (a provider that holds requests, or
   * a test that must act between the request and the answer). A request whose
   * stream is gone by then is not answered.
   */
  hold?: (request: ApnsRequest) => Promise<void> | void;
  private readonly queue: ScriptedApnsAnswer[] = [];
  private server?: http2.Http2SecureServer;
  port = 0;
  /** HTTP/2 connections opened to the fake: one per provider when the sender keeps its provider. */
  sessions = 0;

  constructor(private readonly options: FakeApnsOptions) {}

  async start(): Promise<this> {
    this.server = http2.createSecureServer({ cert: this.options.tls.cert, key: this.options.tls.key });
    this.server.on('session', (session) => {
      this.sessions++;
      session.on('error', () => undefined);
    });
    this.server.on('stream', (stream, headers) => void this.handle(stream, headers));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Every request to this device token gets this answer. */
  answerFor(token: string, answer: ScriptedApnsAnswer): void {
    this.byToken.set(token, answer);
  }

  /** Every request for this topic (an app, so a tenant's credential) gets this answer, unless its token has one. */
  answerForTopic(topic: string, answer: ScriptedApnsAnswer): void {
    this.byTopic.set(topic, answer);
  }

  /** The next requests (any token), in order, get these answers; then the usual ones. */
  enqueue(...answers: ScriptedApnsAnswer[]): void {
    this.queue.push(...answers);
  }

  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.byToken.clear();
    this.byTopic.clear();
    this.hold = undefined;
  }

  private async handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    // A client that goes away mid-request (a killed gateway) is a case the tests make, not the fake's failure.
    stream.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const receivedAt = Date.now();
    const token = /^\/3\/device\/([^/]*)$/.exec(headers[':path'] ?? '')?.[1] ?? '';
    const authorization = String(headers.authorization ?? '');
    const providerToken = authorization.replace(/^bearer /, '');
    const verified = await this.verifyProviderToken(authorization);
    const answer = verified.failure ?? this.checkRequest(headers, token, raw) ?? this.queue.shift() ?? this.byToken.get(token)
      ?? this.byTopic.get(String(headers['apns-topic'] ?? '')) ?? { status: 200 };
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      body = raw.toString('utf8');
    }
    const request: ApnsRequest = { token, headers: plain(headers), body, providerToken, ...(verified.claims ? { claims: verified.claims } : {}), answer, receivedAt, answered: false, closed };
    this.requests.push(request);
    if (this.hold) await this.hold(request);
    if (stream.destroyed || stream.closed) return;
    this.respond(stream, headers, answer);
    request.answered = true;
  }

  private respond(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, answer: ScriptedApnsAnswer): void {
    const apnsId = typeof headers['apns-id'] === 'string' ? headers['apns-id'] : randomUUID();
    const out: http2.OutgoingHttpHeaders = { ':status': answer.status, 'apns-id': apnsId };
    if (answer.retryAfter !== undefined) out['retry-after'] = answer.retryAfter;
    if (answer.status === 200) {
      stream.respond(out, { endStream: true });
      return;
    }
    out['content-type'] = 'application/json';
    stream.respond(out);
    stream.end(JSON.stringify({ reason: answer.reason, ...(answer.timestamp !== undefined ? { timestamp: answer.timestamp } : {}) }));
  }

  /** Apple's checks of the provider token, in the order its reasons suggest. */
  private async verifyProviderToken(authorization: string): Promise<{ failure?: ScriptedApnsAnswer; claims?: JWTPayload }> {
    if (!authorization.startsWith('bearer ')) return { failure: { status: 403, reason: 'MissingProviderToken' } };
    const jwt = authorization.slice('bearer '.length);
    try {
      const { kid, alg } = decodeProtectedHeader(jwt);
      const key = kid ? this.options.keys[kid] : undefined;
      if (alg !== 'ES256' || !key) return { failure: { status: 403, reason: 'InvalidProviderToken' } };
      const { payload } = await jwtVerify(jwt, key, { algorithms: ['ES256'], issuer: this.options.teamId });
      if (typeof payload.iat !== 'number') return { failure: { status: 403, reason: 'InvalidProviderToken' } };
      // Apple refuses a token whose iat is more than one hour old.
      if (Date.now() / 1000 - payload.iat > 3600) return { failure: { status: 403, reason: 'ExpiredProviderToken' }, claims: payload };
      return { claims: payload };
    } catch {
      return { failure: { status: 403, reason: 'InvalidProviderToken' } };
    }
  }

  /** The header and body checks Apple answers with a 400, 405 or 413. */
  private checkRequest(headers: http2.IncomingHttpHeaders, token: string, body: Buffer): ScriptedApnsAnswer | undefined {
    if (headers[':method'] !== 'POST') return { status: 405, reason: 'MethodNotAllowed' };
    if (!/^\/3\/device\//.test(headers[':path'] ?? '')) return { status: 404, reason: 'BadPath' };
    if (token === '') return { status: 400, reason: 'MissingDeviceToken' };
    if (!headers['apns-topic']) return { status: 400, reason: 'MissingTopic' };
    if (!PUSH_TYPES.has(String(headers['apns-push-type'] ?? ''))) return { status: 400, reason: 'InvalidPushType' };
    if (headers['apns-id'] !== undefined && !UUID.test(String(headers['apns-id']))) return { status: 400, reason: 'BadMessageId' };
    if (headers['apns-collapse-id'] !== undefined && Buffer.byteLength(String(headers['apns-collapse-id'])) > 64) return { status: 400, reason: 'BadCollapseId' };
    if (headers['apns-priority'] !== undefined && !['1', '5', '10'].includes(String(headers['apns-priority']))) return { status: 400, reason: 'BadPriority' };
    if (headers['apns-expiration'] !== undefined && !/^\d+$/.test(String(headers['apns-expiration']))) return { status: 400, reason: 'BadExpirationDate' };
    if (body.length === 0) return { status: 400, reason: 'PayloadEmpty' };
    if (body.length > MAX_PAYLOAD) return { status: 413, reason: 'PayloadTooLarge' };
    return undefined;
  }
}

function plain(headers: http2.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : String(value)]));
}
