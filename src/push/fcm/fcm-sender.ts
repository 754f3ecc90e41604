import { randomUUID } from 'node:crypto';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import type { PushSender, PushTarget, SendOutcome, SendRequest, FcmPayload } from '../push-message.js';
import { parseRetryAfter } from '../retry-after.js';
import { classifyFcmAnswer, type FcmErrorBody } from './fcm-answers.js';
import { firebaseMessageOf } from './fcm-message.js';
import { FcmTransport, type FcmTransportOptions, type TappedAnswer } from './fcm-transport.js';
import { AccessTokenError, ServiceAccountToken, type ServiceAccount } from './service-account-token.js';
import { turnOffInternalRetries } from './internal-retries.js';

export type FcmSenderOptions = FcmTransportOptions;

/**
 * Sends to FCM HTTP v1 through firebase-admin 13, one named app per sender
 * (never the default app: each tenant brings its own service account).
 * `send()` per message, all of a batch at once: `sendEach` goes over an
 * HTTP/2 session that ignores `httpAgent` and hard-codes fcm.googleapis.com
 * unless `enableLegacyHttpTransport()` (deprecated) is called (DESIGN.md §5),
 * and it is itself one request per message.
 */
export class FcmSender implements PushSender {
  private readonly transport: FcmTransport;
  private token: ServiceAccountToken;
  private app: App;
  private messaging: Messaging;
  private closed = false;
  private fetchesBefore = 0;

  constructor(private readonly account: ServiceAccount, options: FcmSenderOptions = {}) {
    this.transport = new FcmTransport(options);
    [this.token, this.app, this.messaging] = this.connect();
  }

  /** How many access tokens this sender has fetched (one per hour, not one per message). */
  get tokenFetches(): number {
    return this.fetchesBefore + this.token.fetches;
  }

  private connect(): [ServiceAccountToken, App, Messaging] {
    const token = new ServiceAccountToken(this.account, this.transport.agent);
    const app = initializeApp({ credential: token, projectId: this.account.project_id, httpAgent: this.transport.agent }, `gatehouse-push-${randomUUID()}`);
    const messaging = getMessaging(app);
    turnOffInternalRetries(messaging);
    return [token, app, messaging];
  }

  /**
   * FCM refused our access token (revoked, or the account's key was rotated):
   * firebase-admin keeps its copy until it nears expiry, so the next batch
   * (when the caller resumes the lane) starts from a new app and a new token.
   */
  private async renewAccessToken(): Promise<void> {
    const old = this.app;
    this.fetchesBefore += this.token.fetches;
    [this.token, this.app, this.messaging] = this.connect();
    await deleteApp(old);
  }

  async send(requests: SendRequest[]): Promise<SendOutcome[]> {
    if (this.closed) return requests.map(() => ({ result: 'retry', reason: 'SenderClosed' }));
    const refused = await this.accessTokenFailure();
    if (refused) return requests.map(() => refused);
    const outcomes = await Promise.all(requests.map(({ target, payload }) => {
      if (payload.platform !== 'android' || target.platform !== 'android') return { result: 'rejected', reason: 'WrongPlatform' } as const;
      return this.sendOne(target, payload);
    }));
    if (outcomes.some((outcome) => outcome.result === 'credential-failure' && outcome.reason === 'UNAUTHENTICATED')) await this.renewAccessToken();
    return outcomes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await deleteApp(this.app);
    this.transport.close();
  }

  /** Fetched before the batch so that a refused service account is told apart from an unreachable endpoint. */
  private async accessTokenFailure(): Promise<SendOutcome | undefined> {
    try {
      await this.token.getAccessToken();
      return undefined;
    } catch (error) {
      if (error instanceof AccessTokenError && error.refused) return { result: 'credential-failure', reason: 'AccessTokenRefused' };
      return { result: 'retry', reason: 'AccessTokenUnavailable' };
    }
  }

  private async sendOne(target: PushTarget, payload: FcmPayload): Promise<SendOutcome> {
    const { answer, result } = await this.transport.tap(async () => this.messaging.send(firebaseMessageOf(target, payload)));
    if (result.status === 'fulfilled') return { result: 'sent', providerId: result.value };
    if (answer.status !== undefined) return classifyFcmAnswer(answerOf(answer));
    return outcomeWithoutAnswer(result.reason);
  }
}

function answerOf(tapped: TappedAnswer): { status: number; body?: FcmErrorBody; retryAfterMs?: number } {
  const retryAfterMs = parseRetryAfter(tapped.retryAfter, new Date());
  let body: FcmErrorBody | undefined;
  try {
    body = tapped.body ? (JSON.parse(tapped.body) as FcmErrorBody) : undefined;
  } catch {
    body = undefined;
  }
  return { status: tapped.status ?? 0, ...(body ? { body } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** No answer from FCM: firebase-admin refused the message itself, or the network failed. */
function outcomeWithoutAnswer(error: unknown): SendOutcome {
  const code = (error as { code?: unknown })?.code;
  if (code === 'messaging/invalid-argument' || code === 'messaging/payload-size-limit-exceeded') return { result: 'rejected', reason: 'InvalidMessage' };
  if (code === 'app/network-timeout') return { result: 'retry', reason: 'Timeout' };
  if (code === 'app/invalid-credential') return { result: 'retry', reason: 'AccessTokenUnavailable' };
  return { result: 'retry', reason: 'TransportError' };
}
