import { escapeXmlCharacters, getRequestType, SkillBuilders, type HandlerInput, type ResponseBuilder } from 'ask-sdk-core';
import type { RequestEnvelope, Response, ResponseEnvelope } from 'ask-sdk-model';
import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import { isDeadToken } from '../../auth/request-context.js';
import type { Logger } from '../../logger.js';
import { Early } from './answers.js';
import { handlerFor } from './handlers.js';
import { localeOf, say, type Locale } from './speech.js';
import { turnFor, type Answer, type Turn } from './turn.js';

/** Counts an intent's outcome (gatehouse_voice_intents_total, platform alexa). */
export type IntentCounter = (intent: string, outcome: string) => void;
export type SkillOptions = { core: Core; log: Logger; waitMs: number; count: IntentCounter };


/** The linked account's access token (context.System.user.accessToken) as a TenantContext, or undefined when there is no live one. */
async function callerOf(core: Core, token: string | undefined): Promise<TenantContext | undefined> {
  if (!token) return undefined;
  try {
    return (await core.auth.requests.authenticateVoice(token, 'alexa')).ctx;
  } catch (error) {
    // A dead token: the person links again (a LinkAccount card); an outage is thrown on.
    if (isDeadToken(error)) return undefined;
    throw error;
  }
}

/** What Alexa's request is called in the registry, the metric and the audit: its intent's name, or its type. */
export function requestName(envelope: RequestEnvelope): string {
  const request = envelope.request;
  return request.type === 'IntentRequest' ? request.intent.name : request.type;
}

/** The name as a metric label: only what the registry serves, so a request cannot grow the series. */
const labelOf = (envelope: RequestEnvelope) => (handlerFor(requestName(envelope)) ? requestName(envelope) : 'unsupported');

function render(builder: ResponseBuilder, locale: Locale, answer: Answer): Response {
  const line = (key: NonNullable<Answer['say']>) => escapeXmlCharacters(say(locale, key, answer.params));
  if (answer.say) builder.speak(line(answer.say));
  if (answer.reprompt) builder.reprompt(line(answer.reprompt));
  if (answer.elicit) builder.addElicitSlotDirective(answer.elicit.slot, answer.elicit.intent);
  else if (answer.say && !answer.reprompt) builder.withShouldEndSession(true);
  return builder.getResponse();
}

/** The registry's handler, then the audit (VOICE_INTENT, never the PIN) and the count. */
async function answer(options: SkillOptions, input: HandlerInput, ctx: TenantContext): Promise<Response> {
  const name = requestName(input.requestEnvelope);
  const turn: Turn = turnFor({ core: options.core, ctx, envelope: input.requestEnvelope, waitMs: options.waitMs, log: options.log });
  const handler = handlerFor(name) ?? handlerFor('AMAZON.FallbackIntent')!;
  const answered = await handler(turn).catch((error: unknown) => {
    if (error instanceof Early) return error.answer;
    throw error;
  });
  const { outcome, device, command, pinUsed } = answered;
  const intent = labelOf(input.requestEnvelope);
  await options.core.voiceAccounts.recordIntents(ctx, [{ intent, requestId: turn.requestId, outcome, ...(device ? { device } : {}), ...(command ? { command } : {}), ...(pinUsed ? { pinUsed } : {}) }]);
  options.count(intent, outcome);
  return render(input.responseBuilder, turn.locale, answered);
}

/**
 * The custom skill on ask-sdk-core: the caller from the linked token (none or
 * a dead one: a LinkAccount card), then the registry. A failure of ours says
 * so briefly and is logged, without the request (it may hold a PIN).
 */
export function createSkill(options: SkillOptions) {
  const callers = new WeakMap<RequestEnvelope, TenantContext | undefined>();
  const caller = (input: HandlerInput) => callers.get(input.requestEnvelope);
  const skill = SkillBuilders.custom()
    .addRequestInterceptors(async (input) => {
      callers.set(input.requestEnvelope, await callerOf(options.core, input.requestEnvelope.context?.System?.user?.accessToken));
    })
    .addRequestHandlers(
      { canHandle: (input) => getRequestType(input.requestEnvelope) === 'SessionEndedRequest' && !caller(input), handle: (input) => input.responseBuilder.getResponse() },
      {
        canHandle: (input) => !caller(input),
        handle: (input) => {
          options.count(labelOf(input.requestEnvelope), 'UNLINKED');
          const locale = localeOf(input.requestEnvelope.request.locale);
          return input.responseBuilder.speak(say(locale, 'linkAccount')).withLinkAccountCard().withShouldEndSession(true).getResponse();
        },
      },
      { canHandle: () => true, handle: (input) => answer(options, input, caller(input)!) },
    )
    .addErrorHandlers({
      canHandle: () => true,
      handle: (input, error) => {
        options.log.error({ err: error, request: requestName(input.requestEnvelope) }, 'an Alexa custom-skill request failed');
        options.count(labelOf(input.requestEnvelope), 'INTERNAL');
        return input.responseBuilder.speak(say(localeOf(input.requestEnvelope.request.locale), 'trouble')).withShouldEndSession(true).getResponse();
      },
    })
    .create();
  return (envelope: RequestEnvelope): Promise<ResponseEnvelope> => skill.invoke(envelope);
}
