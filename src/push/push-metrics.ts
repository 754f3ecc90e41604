import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { APNS_REASONS } from './apns/apns-answers.js';
import type { ClaimedDelivery, DepthState, Settlement } from './delivery-queue.js';
import { FCM_CODES } from './fcm/fcm-answers.js';
import type { Platform, PushSender, SendOutcome } from './push-message.js';

export type Provider = 'apns' | 'fcm';
export const providerOf = (platform: Platform): Provider => (platform === 'ios' ? 'apns' : 'fcm');

/**
 * The `reason` label's whole range, so that a provider cannot grow the series
 * count: Apple's reasons and Google's codes (the classification tables), the
 * 410 answered for a token registered since (apns-answers.ts), and the
 * senders' own reasons (apns-sender.ts, fcm-sender.ts). Anything else: "other".
 */
const KNOWN_REASONS = new Set([
  ...APNS_REASONS.map((row) => row.reason),
  ...APNS_REASONS.filter((row) => row.status === 410).map((row) => `${row.reason}BeforeRegistration`),
  ...FCM_CODES.map((row) => row.code),
  'WrongPlatform', 'InvalidPayload', 'SenderClosed', 'InvalidSigningKey', 'TransportError',
  'AccessTokenRefused', 'AccessTokenUnavailable', 'InvalidMessage', 'Timeout',
]);

/** The label value for an outcome's reason: "" when sent, a known reason, "unbuildable", "no-answer" or "other". */
export function reasonLabel(outcome: SendOutcome): string {
  if (outcome.result === 'sent') return '';
  if (KNOWN_REASONS.has(outcome.reason)) return outcome.reason;
  // The worker's own: a payload the builders refused (its message names the notification), a sender that skipped one.
  if (outcome.reason.startsWith('unbuildable:')) return 'unbuildable';
  if (outcome.reason === 'no answer from the sender') return 'no-answer';
  return 'other';
}

/**
 * The push metrics, registered on the gateway's registry. Counters are bumped
 * from the worker's `observe` hook and around each sender call; the queue's
 * depth is read from Postgres at scrape time.
 */
export class PushMetrics {
  private readonly sent: Counter<'provider' | 'result' | 'reason'>;
  private readonly sendSeconds: Histogram<'provider'>;
  private readonly retries: Counter<'provider'>;
  private readonly invalidated: Counter<'provider'>;
  private readonly deadLetters: Counter<'provider'>;

  constructor(registry: Registry, depth: () => Promise<Record<DepthState, number>>, onScrapeError: (error: unknown) => void) {
    this.sent = new Counter({
      name: 'gatehouse_push_sent_total', help: 'Push delivery attempts by provider and result (sent, retry, invalid-token, rejected, credential-failure), with the provider\'s reason.',
      labelNames: ['provider', 'result', 'reason'] as const, registers: [registry],
    });
    this.sendSeconds = new Histogram({
      name: 'gatehouse_push_send_seconds', help: 'Time of one sender call (one tenant\'s group of a round, sent concurrently), by provider.',
      labelNames: ['provider'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    });
    this.retries = new Counter({ name: 'gatehouse_push_retries_total', help: 'Attempts answered retry and queued again with backoff.', labelNames: ['provider'] as const, registers: [registry] });
    this.invalidated = new Counter({ name: 'gatehouse_push_tokens_invalidated_total', help: 'Attempts whose answer disabled the device token (APNs 410/BadDeviceToken, FCM UNREGISTERED/token INVALID_ARGUMENT).', labelNames: ['provider'] as const, registers: [registry] });
    this.deadLetters = new Counter({ name: 'gatehouse_push_dead_letters_total', help: 'Deliveries dead-lettered: rejected, or out of attempts.', labelNames: ['provider'] as const, registers: [registry] });
    new Gauge({
      name: 'gatehouse_push_deliveries', help: 'Push deliveries by state: queued (waiting or backing off), leased (being sent), dead (dead letters not retried). Read from Postgres at each scrape.',
      labelNames: ['state'] as const, registers: [registry],
      async collect() {
        try {
          for (const [state, count] of Object.entries(await depth())) this.set({ state }, count);
        } catch (error) {
          // A scrape during a database outage still answers (the gauge absent), the other metrics with it.
          this.reset();
          onScrapeError(error);
        }
      },
    });
  }

  /** The worker's `observe` hook. */
  observe(delivery: ClaimedDelivery, outcome: SendOutcome, settlement: Settlement): void {
    const provider = providerOf(delivery.token.platform);
    this.sent.inc({ provider, result: outcome.result, reason: reasonLabel(outcome) });
    if (settlement.state === 'queued' && settlement.countAttempt) this.retries.inc({ provider });
    if ('invalidateToken' in settlement) this.invalidated.inc({ provider });
    if (settlement.state === 'dead') this.deadLetters.inc({ provider });
  }

  /** The sender, its calls timed. */
  timed(sender: PushSender, provider: Provider): PushSender {
    const histogram = this.sendSeconds;
    return {
      async send(requests) {
        const end = histogram.startTimer({ provider });
        try {
          return await sender.send(requests);
        } finally {
          end();
        }
      },
      close: () => sender.close(),
    };
  }
}
