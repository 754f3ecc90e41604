import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import { isDeadToken } from '../../auth/request-context.js';
import type { Logger } from '../../logger.js';
import { AlexaError, alexaErrorFor } from './errors.js';
import { deferral } from './deferred.js';
import type { EventGrants } from './event-grants.js';
import { handlerFor } from './handlers.js';
import { errorEvent, eventFor, outcomeOf, tokenOf, type Directive, type Event } from './messages.js';

/**
 * The directive's bearer token as a TenantContext. Only a token that is truly
 * dead (forged, expired, revoked, not Alexa's) answers the credential errors
 * that make Alexa unlink its user; a failure of ours (Postgres down) is thrown
 * on and answers INTERNAL_ERROR.
 */
async function contextOf(core: Core, token: string | undefined): Promise<{ ctx: TenantContext; sessionId: string }> {
  try {
    return await core.auth.requests.authenticateVoice(token, 'alexa');
  } catch (error) {
    if (!isDeadToken(error)) throw error;
    throw error.code === 'TOKEN_EXPIRED'
      ? new AlexaError('EXPIRED_AUTHORIZATION_CREDENTIAL', 'The access token has expired.')
      : new AlexaError('INVALID_AUTHORIZATION_CREDENTIAL', error.message);
  }
}

/** A directive Alexa would send: the header's fields, a payload object (the rest each handler checks). */
function isDirective(body: unknown): body is Directive {
  const d = (body as Directive | null)?.directive;
  return typeof d?.header?.namespace === 'string' && typeof d.header.name === 'string' && typeof d.header.messageId === 'string'
    && d.header.messageId.length <= 256 && typeof d.payload === 'object' && d.payload !== null;
}

export type SmartHomeOptions = {
  core: Core; log: Logger; waitMs: number;
  /** Login with Amazon grants and the event gateway; without them AcceptGrant fails and nothing is deferred. */
  grants?: EventGrants;
  /** How long a deferred command may still finish (ALEXA_DEFERRAL_SECONDS). */
  deferralSeconds?: number;
  /** Told of every answer (metrics): the directive as namespace.name and its outcome. */
  answered?: (directive: string, outcome: string) => void;
};

/**
 * One directive → one event: the token, the registered handler, the core; any
 * failure through the one error table. Every directive with a tenant is
 * audited as VOICE_INTENT with its outcome (never its PIN).
 */
export async function handleDirective({ core, log, waitMs, answered, grants, deferralSeconds = 30 }: SmartHomeOptions, body: unknown, skillId = ''): Promise<Event> {
  if (!isDirective(body)) {
    answered?.('unreadable', 'INVALID_DIRECTIVE');
    const header = { namespace: 'Alexa', name: 'ErrorResponse', payloadVersion: '3' as const, messageId: 'unknown' };
    return errorEvent({ header, payload: {} }, { type: 'INVALID_DIRECTIVE', message: 'Not a Smart Home API v3 directive.' });
  }
  const directive = body.directive;
  const { namespace, name } = directive.header;
  let ctx: TenantContext | undefined;
  let event: Event;
  try {
    const { ctx: caller, sessionId } = await contextOf(core, tokenOf(directive));
    ctx = caller;
    const handler = handlerFor(namespace, name);
    if (!handler) throw new AlexaError('INVALID_DIRECTIVE', `${namespace}.${name} is not supported.`);
    // Only where the person granted Alexa events is there somewhere to send a late Response.
    const deferrable = grants && (async () => ((await grants.has(caller, skillId)) ? deferral({ core, grants, log, ctx: caller, directive, skillId, seconds: deferralSeconds }) : undefined));
    event = eventFor(directive, await handler({ core, ctx, directive, waitMs, skillId, sessionId, grants, deferral: deferrable }));
  } catch (error) {
    const spec = alexaErrorFor(error, directive);
    if (spec.type === 'INTERNAL_ERROR') log.error({ err: error, namespace, name, tenantId: ctx?.tenantId }, 'an Alexa directive failed');
    if (spec.type === 'ACCEPT_GRANT_FAILED') log.warn({ reason: spec.message, skillId, tenantId: ctx?.tenantId }, 'an Alexa AcceptGrant failed');
    event = errorEvent(directive, spec);
  }
  // Labels only for directives Gatehouse handles: what a caller invents must not grow the series.
  answered?.(handlerFor(namespace, name) ? `${namespace}.${name}` : 'unsupported', outcomeOf(event));
  if (ctx) await audit(core, ctx, directive, event).catch((error: unknown) => log.error({ err: error, tenantId: ctx?.tenantId }, 'could not record an Alexa directive'));
  return event;
}


/** The core's VOICE_INTENT record, as Google's adapter writes it: the directive, Alexa's message id, the endpoint, the answer. */
function audit(core: Core, ctx: TenantContext, directive: Directive['directive'], event: Event): Promise<void> {
  const { namespace, name, messageId } = directive.header;
  const endpointId = directive.endpoint?.endpointId;
  return core.voiceAccounts.recordIntents(ctx, [{ intent: `${namespace}.${name}`, requestId: messageId, ...(endpointId ? { device: endpointId } : {}), outcome: outcomeOf(event) }]);
}
