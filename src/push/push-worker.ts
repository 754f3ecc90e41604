import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../logger.js';
import { DEFAULT_RETRY, retryDelayMs, type RetryPolicy } from '../retry-delay.js';
import { settlementFor, type ClaimedDelivery, type DeliveryQueue, type Settlement } from './delivery-queue.js';
import type { BuiltPayload, Notification, Platform, PushSender, SendOutcome } from './push-message.js';

export type PushWorkerOptions = {
  /** Deliveries taken per tenant per round: the round-robin's share. */
  perTenant: number;
  leaseMs: number;
  /** How long a refused provider credential stops the tenant's lane. */
  pauseMs: number;
  /** A round when nothing woke the worker (retries falling due, leases running out). */
  pollMs: number;
  retry: RetryPolicy;
};

export const DEFAULT_WORKER_OPTIONS: PushWorkerOptions = { perTenant: 100, leaseMs: 30_000, pauseMs: 15 * 60_000, pollMs: 1_000, retry: DEFAULT_RETRY };

export type PushWorkerDeps = {
  queue: DeliveryQueue;
  /** The sender for a tenant's platform: its own credential, else the platform's; undefined when neither exists. */
  senderFor: (tenantId: string, platform: Platform) => Promise<PushSender | undefined>;
  build: (notification: Notification, platform: Platform, locale: string | null) => BuiltPayload;
  /** A tenant's credential was refused: audit it and tell its admins. */
  credentialRefused: (tenantId: string, platform: Platform, reason: string) => Promise<void>;
  events: EventBus;
  log: Logger;
  /** Each attempt's outcome and what the queue records for it (for metrics; called before the settle commits). */
  observe?: (delivery: ClaimedDelivery, outcome: SendOutcome, settlement: Settlement) => void;
};

/** Groups in flight per worker at most: one per tenant and platform, each holding its provider's connection busy. */
const MAX_GROUPS_IN_FLIGHT = 64;

/** A claim split by tenant and platform: each group goes through one sender. */
function groupsOf(claimed: ClaimedDelivery[]): ClaimedDelivery[][] {
  const groups = new Map<string, ClaimedDelivery[]>();
  for (const delivery of claimed) {
    const key = `${delivery.tenantId}/${delivery.token.platform}`;
    groups.set(key, [...(groups.get(key) ?? []), delivery]);
  }
  return [...groups.values()];
}

/** The stored notification as the payload builders read it: the outbox keeps names and ids in `data`. */
export function notificationOf(delivery: ClaimedDelivery): Notification {
  const { data } = delivery.notification;
  return {
    ...delivery.notification, tenantId: delivery.tenantId,
    ...(data.device ? { deviceName: data.device } : {}), ...(data.commandId ? { commandId: data.commandId } : {}),
    ...(data.command ? { commandName: data.command } : {}), ...(data.kind ? { kind: data.kind } : {}),
  };
}

/**
 * Takes due deliveries from the queue, sends them through each tenant's
 * sender, and records what the provider said. Woken by `notification.queued`
 * (after the commit of a cause), else every `pollMs`.
 */
export class PushWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly off: () => void;
  /** Tenants with a group being sent, and the groups themselves (awaited by stop()). */
  private readonly busy = new Set<string>();
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly deps: PushWorkerDeps, private readonly options: PushWorkerOptions = DEFAULT_WORKER_OPTIONS) {
    this.off = deps.events.on('notification.queued', () => this.wake(), this);
  }

  start(): void {
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.off();
    clearTimeout(this.timer);
    await this.running;
    await Promise.all(this.sending);
  }

  /** Runs a round now (or right after the one in progress). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) this.wake();
      else this.timer = setTimeout(() => this.wake(), this.options.pollMs).unref();
    });
  }

  /**
   * Each tenant's group is sent and settled on its own, and the loop claims again at once for the
   * tenants not being sent for: a tenant whose provider is slow or throttling holds back no other
   * tenant's next share (the fairness test). A group that finishes wakes the loop for its tenant's next.
   */
  private async loop(): Promise<void> {
    this.again = false;
    try {
      while (!this.stopped && this.sending.size < MAX_GROUPS_IN_FLIGHT) {
        const claimed = await this.deps.queue.claim(this.options.perTenant, this.options.leaseMs, [...this.busy]);
        if (claimed.length === 0) break;
        for (const group of groupsOf(claimed)) this.launch(group);
      }
    } catch (error) {
      this.deps.log.error({ err: error }, 'claiming push deliveries failed; retrying');
    }
  }

  private launch(group: ClaimedDelivery[]): void {
    const tenantId = group[0]!.tenantId;
    this.busy.add(tenantId);
    const sent = this.send(group).then((settlements) => this.deps.queue.settle(settlements))
      .catch((error: unknown) => this.deps.log.error({ err: error, tenantId }, 'a push delivery group failed; its leases will run out and it is retried'))
      .finally(() => {
        this.busy.delete(tenantId);
        this.sending.delete(sent);
        this.wake();
      });
    this.sending.add(sent);
  }

  /** One round, start to end: claim, send per tenant and platform, settle (tests and the bench step through it). The number handled. */
  async round(): Promise<number> {
    const claimed = await this.deps.queue.claim(this.options.perTenant, this.options.leaseMs);
    if (claimed.length === 0) return 0;
    const settled = await Promise.all(groupsOf(claimed).map((group) => this.send(group)));
    await this.deps.queue.settle(settled.flat());
    return claimed.length;
  }

  private async send(group: ClaimedDelivery[]): Promise<Settlement[]> {
    const { tenantId, token: { platform } } = group[0]!;
    const sender = await this.deps.senderFor(tenantId, platform);
    if (!sender) return group.map((delivery) => ({ id: delivery.id, lease: delivery.lease, state: 'dropped' as const, reason: `no ${platform} push credential` }));
    // A notification that cannot be built (too large even without its body) is a dead letter of its own, not the group's failure.
    const built = group.map((delivery) => {
      try {
        return this.deps.build(notificationOf(delivery), platform, delivery.token.locale);
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    });
    const sendable = group.flatMap((delivery, i) => (built[i] instanceof Error ? [] : [{
      target: {
        deliveryId: delivery.id, notificationId: delivery.notification.id, token: delivery.token.token, platform,
        environment: delivery.token.environment, tokenRegisteredAt: delivery.token.registeredAt,
      },
      payload: built[i] as BuiltPayload,
    }]));
    const answers = sendable.length > 0 ? await sender.send(sendable) : [];
    let next = 0;
    const outcomes: SendOutcome[] = built.map((payload) => (payload instanceof Error ? { result: 'rejected', reason: `unbuildable: ${payload.message}` } : answers[next++] ?? { result: 'retry', reason: 'no answer from the sender' }));
    const refused = outcomes.find((outcome) => outcome.result === 'credential-failure');
    if (refused) {
      await this.deps.queue.pauseLane(tenantId, this.options.pauseMs, refused.reason);
      await this.deps.credentialRefused(tenantId, platform, refused.reason);
    }
    // Before the tenant is claimed again: its throttled phones' other deliveries wait for the provider's time.
    const holds = new Map<string, number>();
    group.forEach((delivery, i) => {
      const outcome = outcomes[i]!;
      if (outcome.result === 'retry' && outcome.retryAfterMs) holds.set(delivery.token.id, Math.max(holds.get(delivery.token.id) ?? 0, outcome.retryAfterMs));
    });
    await this.deps.queue.holdTokens(holds);
    const retry = { delayMs: (attempt: number, after?: number) => retryDelayMs(this.options.retry, attempt, after), maxAttempts: this.options.retry.maxAttempts };
    return group.map((delivery, i) => {
      const settlement = settlementFor(delivery, outcomes[i]!, retry);
      this.deps.observe?.(delivery, outcomes[i]!, settlement);
      return settlement;
    });
  }
}
