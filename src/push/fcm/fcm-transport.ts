import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { unzipSync } from 'node:zlib';

/** What FCM answered one request: status, Retry-After and (for errors) the body. */
export type TappedAnswer = { status?: number; retryAfter?: string; body?: string };

export type FcmTransportOptions = {
  /** Connect every request to this address instead (a local fake, an egress proxy); certificates are still checked against the URL's host. */
  connectTo?: { host: string; port: number };
  /** Trusted CA certificates, PEM, instead of Node's (the fake's CA in tests). */
  ca?: string[];
  /** Connections per sender: FCM v1 over HTTP/1.1 takes one request per connection at a time. */
  maxSockets?: number;
};

const MAX_BODY = 64 * 1024;

/**
 * The HTTP agent of one FCM sender. firebase-admin 13 turns an FCM answer
 * into a FirebaseMessagingError that drops the HTTP status, the Retry-After
 * header and the FcmError errorCode (it maps UNAUTHENTICATED and
 * THIRD_PARTY_AUTH_ERROR to one code, QUOTA_EXCEEDED and RESOURCE_EXHAUSTED to
 * another). The agent sees every request it connects; `tap()` runs a send with
 * a slot the agent fills with the raw answer, found through AsyncLocalStorage.
 */
export class FcmTransport {
  private readonly slots = new AsyncLocalStorage<TappedAnswer>();
  readonly agent: https.Agent;

  constructor(options: FcmTransportOptions = {}) {
    const slots = this.slots;
    const connectTo = options.connectTo;
    this.agent = new (class extends https.Agent {
      override createConnection(connect: https.RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | null | undefined {
        if (!connectTo) return super.createConnection(connect, callback);
        const servername = (connect as tls.ConnectionOptions).servername ?? connect.host ?? undefined;
        return tls.connect({ ...(connect as tls.ConnectionOptions), host: connectTo.host, port: connectTo.port, ...(servername ? { servername } : {}) });
      }

      addRequest(request: ClientRequest, connect: unknown): void {
        const slot = slots.getStore();
        // Only FCM's answer: a token fetch firebase-admin starts inside a send has its own.
        if (slot && request.path.endsWith('/messages:send')) request.once('response', (response: IncomingMessage) => record(slot, response));
        (https.Agent.prototype as unknown as { addRequest(request: ClientRequest, connect: unknown): void }).addRequest.call(this, request, connect);
      }
    })({ keepAlive: true, maxSockets: options.maxSockets ?? 32, ...(options.ca ? { ca: options.ca } : {}) });
  }

  /** Runs `send` with a fresh slot; afterwards the slot holds what FCM answered, if anything. */
  async tap<T>(send: () => Promise<T>): Promise<{ answer: TappedAnswer; result: PromiseSettledResult<T> }> {
    const answer: TappedAnswer = {};
    const [result] = await Promise.allSettled([this.slots.run(answer, send)]);
    return { answer, result: result! };
  }

  close(): void {
    this.agent.destroy();
  }
}

function record(slot: TappedAnswer, response: IncomingMessage): void {
  slot.status = response.statusCode;
  const retryAfter = response.headers['retry-after'];
  if (retryAfter !== undefined) slot.retryAfter = retryAfter;
  if (response.statusCode === 200) return;
  const chunks: Buffer[] = [];
  let size = 0;
  response.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  response.on('end', () => {
    const raw = Buffer.concat(chunks);
    try {
      slot.body = (response.headers['content-encoding'] ? unzipSync(raw) : raw).toString('utf8');
    } catch {
      slot.body = raw.toString('utf8');
    }
  });
}
