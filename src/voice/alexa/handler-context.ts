import type { TenantContext } from '../../auth/context.js';
import type { Command } from '../../core/commands/command-service.js';
import type { Core } from '../../core/create-core.js';
import { isGatewayError } from '../../core/errors.js';
import type { DeviceStateView } from '../../core/devices/device-registry.js';
import { healthProperty, INTERFACES } from './capabilities.js';
import { AlexaError, alexaErrorForStatus } from './errors.js';
import type { Deferral } from './deferred.js';
import type { EventGrants } from './event-grants.js';
import type { Directive, Property, Reply } from './messages.js';

/**
 * What every handler receives: the core, the caller's context (from the token), the directive, the wait budget;
 * the skill the forwarder named and the Gatehouse session of the token (AcceptGrant keeps both with the grant).
 */
export type HandlerContext = {
  core: Core; ctx: TenantContext; directive: Directive['directive']; waitMs: number;
  skillId: string; sessionId: string; grants?: EventGrants;
  /** Present when the person granted Alexa events: a slow command is answered DeferredResponse, its Response sent later. */
  deferral?: () => Promise<Deferral | undefined>;
};

/**
 * The endpoint the directive names, as the core reads it now. The endpointId
 * is a device id; an id this tenant has no device by (another tenant's
 * included) is NO_SUCH_ENDPOINT, never "not yours".
 */
export async function endpointDevice(h: HandlerContext): Promise<DeviceStateView> {
  const id = h.directive.endpoint?.endpointId;
  const device = id ? (await h.core.devices.list(h.ctx)).find((d) => d.id === id && d.status === 'active') : undefined;
  const view = device ? (await h.core.devices.readStates(h.ctx, [device.name])).devices[0] : undefined;
  if (!view) throw new AlexaError('NO_SUCH_ENDPOINT', 'No such endpoint.');
  return view;
}

/** Every property of the device's interfaces, its health included, from `reported` (the core's fields). */
export function propertiesOf(device: DeviceStateView, reported: Record<string, unknown>, at = new Date().toISOString()): Property[] {
  return [...INTERFACES.filter((s) => device.capabilities.includes(s.capability)).flatMap((s) => s.properties(reported, at)), healthProperty(device.online, at)];
}

/**
 * A command through the core's command service: its gate (voice policy, PIN,
 * risk), the message id as idempotency key (Alexa retries a directive with the
 * same one), waiting within Alexa's budget. Without a grant the command's TTL
 * is the wait, so a device that did not answer in time never acts later on a
 * stale request (ENDPOINT_UNREACHABLE); with one it may finish within the
 * deferral, answered DeferredResponse now and its Response later. Answers a
 * Response whose properties carry the new state (`effect` over what the
 * device last reported).
 */
export async function command(h: HandlerContext, name: string, params: Record<string, unknown>, effect: Record<string, unknown>, extra: Partial<Reply> & { pin?: string; platformVoiceCode?: boolean } = {}): Promise<Reply> {
  const device = await endpointDevice(h);
  const { pin, platformVoiceCode, ...reply } = extra;
  const deferral = h.directive.header.correlationToken ? await h.deferral?.() : undefined;
  const finish = (done: Command): Reply => {
    if (done.status !== 'succeeded') throw alexaErrorForStatus(done.status, JSON.stringify(done.result ?? null).slice(0, 200));
    return { properties: propertiesOf({ ...device, online: true }, { ...device.reported, ...effect }), ...reply };
  };
  try {
    return finish(await h.core.commands.issueAndWait(h.ctx, device.name, {
      name, params, pin, platformVoiceCode, idempotencyKey: `alexa:${h.directive.header.messageId}`,
      ttlSeconds: Math.ceil(h.waitMs / 1000) + 1 + (deferral?.seconds ?? 0),
    }, h.waitMs));
  } catch (error) {
    if (!deferral || !isGatewayError(error) || error.code !== 'COMMAND_TIMEOUT') throw error;
    return deferral.start(String(error.details?.commandId), finish);
  }
}
