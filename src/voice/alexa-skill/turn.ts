import type { Intent, RequestEnvelope, Slot } from 'ask-sdk-model';
import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import type { Logger } from '../../logger.js';
import { localeOf, type Locale, type P, type SpeechKey } from './speech.js';

/** What every handler gets: the core, the caller's context (from the linked token), the request. */
export type Turn = {
  core: Core; ctx: TenantContext; envelope: RequestEnvelope; locale: Locale; requestId: string;
  /** The intent of an IntentRequest (slots as Alexa sent them), else undefined. */
  intent: Intent | undefined;
  waitMs: number; log: Logger;
};

/** What a handler answers, as data; skill.ts turns it into Alexa's response. */
export type Answer = {
  /** Nothing to say only where Alexa allows no speech (SessionEndedRequest). */
  say?: SpeechKey; params?: P;
  /** Keep the session open and ask again with this (a question). */
  reprompt?: SpeechKey;
  /** Dialog.ElicitSlot: ask for this slot of the intent, as updated. */
  elicit?: { slot: string; intent: Intent };
  /** The audit's fields: what was answered, and about what. */
  outcome: string; device?: string; command?: string; pinUsed?: boolean;
};

export const turnFor = (base: Omit<Turn, 'locale' | 'requestId' | 'intent'>): Turn => ({
  ...base,
  locale: localeOf(base.envelope.request.locale),
  requestId: base.envelope.request.requestId,
  intent: base.envelope.request.type === 'IntentRequest' ? base.envelope.request.intent : undefined,
});

/** A slot's value: the resolved id of a custom slot type when Alexa matched one, else what was said. */
export function slotValue(turn: Turn, name: string): { said: string; id: string } | undefined {
  const slot: Slot | undefined = turn.intent?.slots?.[name];
  const said = slot?.value?.trim();
  if (!said) return undefined;
  const match = slot?.resolutions?.resolutionsPerAuthority?.find((r) => r.status.code === 'ER_SUCCESS_MATCH');
  return { said, id: match?.values[0]?.value.id ?? said };
}

/** The `pin` slot when it holds four digits (AMAZON.FOUR_DIGIT_NUMBER); it goes to the core's PIN gate and nowhere else. */
export function pinSaid(turn: Turn): string | undefined {
  const said = slotValue(turn, 'pin')?.said;
  return said && /^\d{4}$/.test(said) ? said : undefined;
}
