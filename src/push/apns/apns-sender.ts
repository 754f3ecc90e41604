import apn from '@parse/node-apn';
import { collapseIdOf } from '../collapse-id.js';
import type { ApnsPayload, PushEnvironment, PushSender, PushTarget, SendOutcome, SendRequest } from '../push-message.js';
import { classifyApnsAnswer } from './apns-answers.js';
import { apnsAnswerOf, type ApnFailure } from './apns-failure.js';
import { tapRetryAfter } from './retry-after-tap.js';
import { parseRetryAfter } from '../retry-after.js';

/** A tenant's (or the platform's) token-based APNs credential: the .p8 key and who it belongs to. */
export type ApnsCredential = {
  /** The private key of the .p8 file, PEM. */
  signingKey: string;
  keyId: string;
  teamId: string;
  /** The app's bundle id: every request's apns-topic. */
  topic: string;
};

/** Where to connect, per environment; absent: Apple's hosts. Tests point this at a fake. */
export type ApnsEndpoint = { address: string; port: number; ca?: string[] };

export type ApnsSenderOptions = {
  endpoints?: Partial<Record<PushEnvironment, ApnsEndpoint>>;
  /** How long one request may take before it is answered `retry` (node-apn's default is 5 s). */
  requestTimeoutMs?: number;
  /** The longest close() waits for node-apn to let its connection go. */
  closeTimeoutMs?: number;
};

/**
 * Sends to APNs over HTTP/2 with one long-lived provider per environment:
 * node-apn signs a provider token once and renews it every 3 300 s, and Apple
 * refuses tokens renewed more often than every 20 minutes
 * (TooManyProviderTokenUpdates). Its own retries are off
 * (`connectionRetryLimit: 0`): it retries 408/429/5xx at once, ignoring
 * Retry-After; the caller backs off instead, with Retry-After (read by
 * tapRetryAfter) as a floor.
 */
export class ApnsSender implements PushSender {
  private readonly providers = new Map<PushEnvironment, apn.Provider>();
  /** Retry-After values seen, by apns-id (= delivery id), until the send that got them reads them. */
  private readonly retryAfters = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly credential: ApnsCredential,
    private readonly options: ApnsSenderOptions = {},
  ) {}

  async send(requests: SendRequest[]): Promise<SendOutcome[]> {
    return Promise.all(requests.map(({ target, payload }) => {
      if (payload.platform !== 'ios' || target.platform !== 'ios') return { result: 'rejected', reason: 'WrongPlatform' } as const;
      let notification: apn.Notification;
      try {
        notification = this.notificationOf(target, payload);
      } catch {
        return { result: 'rejected', reason: 'InvalidPayload' } as const;
      }
      return this.sendOne(target, notification);
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const providers = [...this.providers.values()];
    this.providers.clear();
    this.retryAfters.clear();
    await Promise.all(providers.map((provider) => shutdown(provider, this.options.closeTimeoutMs ?? 2000)));
  }

  private async sendOne(target: PushTarget, notification: apn.Notification): Promise<SendOutcome> {
    const first = await this.attempt(target, notification);
    if (first.result !== 'renew-provider-token') return first;
    // Apple: ExpiredProviderToken → "generate a new token". node-apn already
    // has (it regenerates on that answer); send once more with it.
    const second = await this.attempt(target, notification);
    return second.result === 'renew-provider-token' ? { result: 'credential-failure', reason: second.reason } : second;
  }

  private async attempt(target: PushTarget, notification: apn.Notification): Promise<SendOutcome | { result: 'renew-provider-token'; reason: string }> {
    if (this.closed) return { result: 'retry', reason: 'SenderClosed' };
    let provider: apn.Provider;
    try {
      provider = this.provider(target.environment);
    } catch {
      // node-apn signs its first provider token in the constructor: a key it cannot read or sign with.
      return { result: 'credential-failure', reason: 'InvalidSigningKey' };
    }
    const { sent, failed } = await provider.send(notification, target.token);
    const retryAfter = this.retryAfters.get(target.deliveryId);
    this.retryAfters.delete(target.deliveryId);
    if (sent.length > 0) return { result: 'sent', providerId: target.deliveryId };
    const answer = apnsAnswerOf((failed[0] ?? {}) as ApnFailure, parseRetryAfter(retryAfter, new Date()));
    if (!answer) return { result: 'retry', reason: 'TransportError' };
    return classifyApnsAnswer(answer, target.tokenRegisteredAt);
  }

  /** The request: apns-id = the delivery, apns-collapse-id = the notification, so a repeat replaces the first copy. */
  private notificationOf(target: PushTarget, payload: ApnsPayload): apn.Notification {
    const notification = new apn.Notification();
    notification.rawPayload = JSON.parse(payload.body);
    notification.topic = this.credential.topic;
    notification.id = target.deliveryId;
    notification.collapseId = collapseIdOf(target.notificationId);
    notification.pushType = payload.pushType;
    notification.priority = payload.priority;
    notification.expiry = Math.floor(payload.expiresAt.getTime() / 1000);
    return notification;
  }

  private provider(environment: PushEnvironment): apn.Provider {
    let provider = this.providers.get(environment);
    if (!provider) {
      const endpoint = this.options.endpoints?.[environment];
      provider = new apn.Provider({
        token: { key: this.credential.signingKey, keyId: this.credential.keyId, teamId: this.credential.teamId },
        production: environment === 'production',
        connectionRetryLimit: 0,
        requestTimeout: this.options.requestTimeoutMs ?? 5000,
        ...(endpoint ? { address: endpoint.address, port: endpoint.port, ...(endpoint.ca ? { ca: endpoint.ca } : {}) } : {}),
      });
      tapRetryAfter(provider, (apnsId, value) => this.retryAfters.set(apnsId, value));
      this.providers.set(environment, provider);
    }
    return provider;
  }
}

/**
 * node-apn 8's shutdown never calls back when its HTTP/2 session was already
 * destroyed by an error (it awaits `session.close(cb)`, which Node skips on a
 * destroyed session); its timers are cleared before that, so nothing is left
 * running when we stop waiting.
 */
function shutdown(provider: apn.Provider, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    void provider.shutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
