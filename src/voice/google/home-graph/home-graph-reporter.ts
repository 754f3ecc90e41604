import { readFileSync } from 'node:fs';
import type { TenantContext } from '../../../auth/context.js';
import type { Config } from '../../../config.js';
import type { Core } from '../../../core/create-core.js';
import { LocalEventBus } from '../../../core/event-bus.js';
import type { OpenedVoiceCredential } from '../../../core/voice-credentials.js';
import type { RetryPolicy } from '../../../retry-delay.js';
import { StateReportQueue, type StateReport } from '../../state-reports.js';
import { exposedDevices } from '../intents/intent.js';
import { statesOf } from '../traits/registry.js';
import { HomeGraphClient, type HomeGraphEndpoint } from './home-graph-client.js';

export type HomeGraphOptions = {
  core: Core;
  /** The reader's context for a tenant (src/auth's stateReporterContext, wired by the composition root). */
  contextFor: (tenantId: string) => TenantContext;
  endpoint: HomeGraphEndpoint;
  intervalMs: number;
  retry: RetryPolicy;
  onError: (what: 'reportState' | 'requestSync', tenantId: string, error: unknown) => void;
};

/**
 * Tells Home Graph what changed, for every Google account linked in the
 * tenant, when the tenant (or the platform) has a service account: state and
 * presence through the StateReportQueue (coalesced per device, sent per
 * tenant with backoff), and a requestSync when devices come, change or go.
 * The device path only merges into a map; nothing here can hold it up.
 */
export class HomeGraphReporter {
  private readonly reports: StateReportQueue;
  private readonly syncs: StateReportQueue;
  private readonly syncBus = new LocalEventBus();
  private readonly clients = new Map<string, HomeGraphClient>();

  constructor(private readonly options: HomeGraphOptions) {
    const { core, intervalMs, retry, onError } = options;
    this.reports = new StateReportQueue(core.events, (tenantId, reports) => this.report(tenantId, reports), {
      intervalMs, retry, maxPending: 100_000, onError: (tenantId, error) => onError('reportState', tenantId, error),
    });
    // The same queue for device-list changes: a tenant's many registrations are one requestSync, retried with backoff.
    // Fed here rather than from its own bus, which carries no state events.
    this.syncs = new StateReportQueue(this.syncBus, (tenantId) => this.requestSync(tenantId), {
      intervalMs, retry, maxPending: 100_000, onError: (tenantId, error) => onError('requestSync', tenantId, error),
    });
    for (const event of ['device.registered', 'device.updated', 'device.removed'] as const) {
      core.events.on(event, ({ tenantId, deviceId }) => this.syncs.merge(tenantId, { deviceId, state: {} }), this);
    }
  }

  async close(): Promise<void> {
    this.options.core.events.removeOwner(this);
    await this.reports.close(this.options.core.events);
    await this.syncs.close(this.syncBus);
  }

  /** The same states QUERY answers, read now (the queue only says which devices changed), for each linked account. */
  private async report(tenantId: string, reports: StateReport[]): Promise<void> {
    const target = await this.target(tenantId);
    if (!target) return;
    const names = await this.options.core.devices.namesOf(target.ctx, reports.map((report) => report.deviceId));
    const devices = await exposedDevices({ core: this.options.core, ctx: target.ctx }, [...names.values()]);
    if (devices.size === 0) return;
    const states = Object.fromEntries([...devices.values()].map((device) => [device.name, device.online
      ? { online: true, ...statesOf(device.traits, device.reported, device.capabilities) }
      : { online: false }]));
    for (const agentUserId of target.agents) await target.client.reportState(agentUserId, states);
  }

  private async requestSync(tenantId: string): Promise<void> {
    const target = await this.target(tenantId);
    for (const agentUserId of target?.agents ?? []) await target!.client.requestSync(agentUserId);
  }

  /** The tenant's Home Graph client and linked accounts; undefined when it has no service account or no one linked. */
  private async target(tenantId: string): Promise<{ ctx: TenantContext; client: HomeGraphClient; agents: string[] } | undefined> {
    const credential = await this.options.core.voiceCredentials.open(tenantId);
    if (!credential) return undefined;
    const ctx = this.options.contextFor(tenantId);
    const agents = await this.options.core.voiceAccounts.linkedIds(ctx, 'google');
    return agents.length > 0 ? { ctx, client: this.clientFor(credential), agents } : undefined;
  }

  /** One client per credential (its access token lives in it); a replaced credential gets a new one. */
  private clientFor(credential: OpenedVoiceCredential): HomeGraphClient {
    const key = `${credential.id}/${credential.fingerprint}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new HomeGraphClient(credential.serviceAccount, this.options.endpoint);
      this.clients.set(key, client);
    }
    return client;
  }
}

/** The reporter as configured (GOOGLE_HOMEGRAPH_*): retries start at the interval and double up to 5 minutes. */
export function startHomeGraph(core: Core, config: Config['google']['homeGraph'], contextFor: HomeGraphOptions['contextFor'], onError: HomeGraphOptions['onError']): HomeGraphReporter {
  const ca = config.caFile ? readFileSync(config.caFile, 'utf8') : undefined;
  return new HomeGraphReporter({
    core, contextFor, onError, intervalMs: config.intervalMs,
    endpoint: { baseUrl: config.baseUrl, ca, timeoutMs: 10_000 },
    retry: { baseMs: config.intervalMs, capMs: 300_000, maxAttempts: 12 },
  });
}
