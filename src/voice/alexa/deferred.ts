import type { TenantContext } from '../../auth/context.js';
import type { Command } from '../../core/commands/command-service.js';
import type { Core } from '../../core/create-core.js';
import type { Logger } from '../../logger.js';
import { alexaErrorFor } from './errors.js';
import type { EventGrants } from './event-grants.js';
import { errorEvent, eventFor, outcomeOf, type Directive, type Event, type Reply } from './messages.js';

/** A command still running when Alexa's budget ran out: answered DeferredResponse now, its Response sent later. */
export type Deferral = { seconds: number; start(commandId: string, finish: (done: Command) => Reply): Reply };

type DeferralOptions = { core: Core; grants: EventGrants; log: Logger; ctx: TenantContext; directive: Directive['directive']; skillId: string; seconds: number };

/** An asynchronous answer carries the grant's token in its endpoint's scope (https://developer.amazon.com/docs/device-apis/alexa-response.html#asynchronous). */
function withScope(answer: Event, token: string): Event {
  const endpointId = answer.event.endpoint?.endpointId;
  return { ...answer, event: { ...answer.event, ...(endpointId ? { endpoint: { scope: { type: 'BearerToken', token }, endpointId } } : {}) } };
}

/**
 * https://developer.amazon.com/docs/device-apis/alexa-response.html#deferred:
 * DeferredResponse at once, then the Response (same correlationToken, the new
 * properties) or ErrorResponse to the event gateway once the command finishes
 * or its TTL runs out; audited like the directive, with outcome "async …".
 */
export function deferral(o: DeferralOptions): Deferral {
  return {
    seconds: o.seconds,
    start(commandId, finish) {
      void (async () => {
        // A little past the TTL: the expiry sweep (every second) marks it expired and wakes this wait.
        const done = await o.core.commands.waitFor(o.ctx, commandId, (o.seconds + 2) * 1000);
        let answer: Event;
        try {
          answer = eventFor(o.directive, finish(done));
        } catch (error) {
          answer = errorEvent(o.directive, alexaErrorFor(error, o.directive));
        }
        const sent = await o.grants.send(o.ctx, o.skillId, (token) => withScope(answer, token));
        const { namespace, name, messageId } = o.directive.header;
        await o.core.voiceAccounts.recordIntents(o.ctx, [{
          intent: `${namespace}.${name}`, requestId: messageId, device: o.directive.endpoint?.endpointId, outcome: `async ${outcomeOf(answer)} (${sent})`,
        }]);
      })().catch((error: unknown) => o.log.error({ err: error, tenantId: o.ctx.tenantId, commandId }, 'could not send a deferred Alexa response'));
      return { name: 'DeferredResponse', withoutEndpoint: true, payload: { estimatedDeferralInSeconds: o.seconds } };
    },
  };
}
