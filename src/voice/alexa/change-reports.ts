import { randomUUID } from 'node:crypto';
import type { TenantContext } from '../../auth/context.js';
import { reportedState } from '../../core/capabilities/reported-state.js';
import type { Core } from '../../core/create-core.js';
import { MAX_STATE_BATCH, type DeviceStateView } from '../../core/devices/device-registry.js';
import type { Logger } from '../../logger.js';
import { StateReportQueue, type StateReport } from '../state-reports.js';
import { healthProperty, interfacesOf } from './capabilities.js';
import { endpointOf } from './discovery.js';
import { EventGatewayUnavailable, type EventGrants } from './event-grants.js';
import type { Event, Property } from './messages.js';

export type Cause = 'PHYSICAL_INTERACTION' | 'APP_INTERACTION';
type Change = { device: DeviceStateView; report: StateReport; cause: Cause; interfaces: Set<string> };

/** A command moved on this recently before a change: the change is the command's doing (an app, a voice assistant, an automation). */
const COMMAND_CAUSE_MS = 10_000;

const sameProperty = (a: Property, b: Property) => a.namespace === b.namespace && a.name === b.name && a.instance === b.instance;

/** The properties Alexa knows that the report changed, of the interfaces Discovery announced; presence as connectivity. */
function changedProperties({ device, report, interfaces }: Change, at: string): Property[] {
  return [
    ...interfacesOf(device.capabilities).flatMap((spec) => spec.properties(reportedState(device.capabilities, report.state), at)),
    ...(report.online === undefined ? [] : [healthProperty(report.online, at)]),
  ].filter((p) => interfaces.has(p.namespace));
}

/**
 * Alexa.ChangeReport for one device (https://developer.amazon.com/docs/device-apis/alexa-changereport.html):
 * what changed in `payload.change`, every other property in `context`, only
 * of the interfaces Discovery announced. Pure; undefined when nothing Alexa
 * knows changed (a field no capability reports).
 */
export function changeReport(change: Change, token: string, at: string, uncertaintyInMilliseconds: number): Event | undefined {
  const { device, cause, interfaces } = change;
  const changed = changedProperties(change, at).map((p) => ({ ...p, uncertaintyInMilliseconds }));
  if (changed.length === 0) return undefined;
  const current = [
    ...interfacesOf(device.capabilities).flatMap((spec) => spec.properties(device.reported, (device.stateUpdatedAt ?? new Date(at)).toISOString())),
    healthProperty(device.online, at),
  ].filter((p) => interfaces.has(p.namespace) && !changed.some((c) => sameProperty(c, p)));
  return {
    event: {
      header: { namespace: 'Alexa', name: 'ChangeReport', payloadVersion: '3', messageId: randomUUID() },
      endpoint: { scope: { type: 'BearerToken', token }, endpointId: device.id },
      payload: { change: { cause: { type: cause }, properties: changed } },
    },
    context: { properties: current },
  };
}

export type ChangeReportOptions = { intervalMs: number; log: Logger };

/**
 * device.state.changed and device.presence.changed as ChangeReports to every
 * person of the tenant who granted Alexa events, coalesced per device by the
 * voice StateReportQueue (one report per device per interval, whatever the
 * device publishes). Each person is told only of the endpoints their own
 * Discovery lists (their context, the tenant's voice policy).
 */
export class ChangeReports {
  private readonly queue: StateReportQueue;
  private readonly commanded = new Map<string, number>();

  constructor(private readonly core: Core, private readonly grants: EventGrants, private readonly options: ChangeReportOptions) {
    this.queue = new StateReportQueue(core.events, (tenantId, reports) => this.send(tenantId, reports), {
      intervalMs: options.intervalMs,
      retry: { baseMs: 1_000, capMs: 300_000, maxAttempts: 8 },
      maxPending: 100_000,
      onError: (tenantId, error) => options.log.warn({ err: error, tenantId }, 'Alexa ChangeReports failed; kept and retried'),
    });
    core.events.on('command.status.changed', ({ deviceId, status }) => {
      if (status !== 'awaiting_approval') this.commanded.set(deviceId, Date.now());
    }, this);
  }

  /** Sends what is due now (tests; the queue's own timer does it every interval). */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  async close(): Promise<void> {
    this.core.events.removeOwner(this);
    await this.queue.close(this.core.events);
  }

  private async send(tenantId: string, reports: StateReport[]): Promise<void> {
    const holders = await this.core.auth.alexaGrantHolders(tenantId);
    const causes = new Map(reports.map((r) => [r.deviceId, this.causeOf(r.deviceId)] as const));
    let unavailable: unknown;
    for (const { ctx, skillId } of holders) {
      const at = new Date().toISOString();
      for (const change of await this.changesFor(ctx, reports, causes)) {
        try {
          const outcome = await this.grants.send(ctx, skillId, (token) => changeReport(change, token, at, this.options.intervalMs)!);
          if (outcome === 'dropped' || outcome === 'no-grant') break;
        } catch (error) {
          if (!(error instanceof EventGatewayUnavailable)) throw error;
          unavailable = error;
          break;
        }
      }
    }
    // The whole batch is tried again: a person already told hears the same state twice, which Alexa takes as it is.
    if (unavailable) throw unavailable;
  }

  /** The reported devices this person's Discovery lists, with the interfaces it announced and something Alexa knows that changed. */
  private async changesFor(ctx: TenantContext, reports: StateReport[], causes: Map<string, Cause>): Promise<Change[]> {
    const byId = new Map(reports.map((r) => [r.deviceId, r]));
    const names = (await this.core.devices.list(ctx)).filter((d) => d.status === 'active' && byId.has(d.id)).map((d) => d.name);
    const enabled = await this.core.voicePolicy.enabledFor(ctx, 'alexa');
    const changes: Change[] = [];
    for (let i = 0; i < names.length; i += MAX_STATE_BATCH) {
      for (const device of (await this.core.devices.readStates(ctx, names.slice(i, i + MAX_STATE_BATCH))).devices) {
        const endpoint = endpointOf(device, enabled);
        if (!endpoint) continue;
        const interfaces = new Set((endpoint.capabilities as { interface: string }[]).map((c) => c.interface));
        const change = { device, report: byId.get(device.id)!, cause: causes.get(device.id)!, interfaces };
        if (changedProperties(change, new Date().toISOString()).length > 0) changes.push(change);
      }
    }
    return changes;
  }

  /** APP_INTERACTION when a command moved on the device lately (through Gatehouse: an app, a voice assistant); else someone at the device. */
  private causeOf(deviceId: string): Cause {
    const now = Date.now();
    for (const [id, at] of this.commanded) if (now - at > COMMAND_CAUSE_MS) this.commanded.delete(id);
    return this.commanded.has(deviceId) ? 'APP_INTERACTION' : 'PHYSICAL_INTERACTION';
  }
}
