import type { Intent } from 'ask-sdk-model';
import { isGatewayError, type ErrorCode, type GatewayError } from '../../core/errors.js';
import type { CommandStatus } from '../../core/commands/command-service.js';
import type { Answer, Turn } from './turn.js';

/** A handler's answer that cuts its work short ("which device?"): returned as it is, not an error. */
export class Early extends Error {
  constructor(readonly answer: Answer) {
    super(answer.outcome);
  }
}

/** The intent as Alexa should ask for its PIN again: the PIN slot emptied, so no response ever carries one back. */
export function withoutPin(intent: Intent): Intent {
  return { ...intent, slots: { ...intent.slots, pin: { name: 'pin', confirmationStatus: 'NONE' } } };
}

/** The command in question: the device's name and how it was called, the catalogue command and what was said for it. */
export type About = { device: string; spoken: string; command: string; said: string };
type Spoken = Omit<Answer, 'outcome' | 'device' | 'command'>;

/**
 * The core's refusals of a command, as what to say: one table, data only
 * (DESIGN.md §4.5). The PIN ones keep the dialog going (Dialog.ElicitSlot);
 * a lockout ends it.
 */
const ON_ERROR: Partial<Record<ErrorCode, (turn: Turn, error: GatewayError) => Spoken>> = {
  PIN_REQUIRED: (turn, error) => (error.details.pinSet === false ? { say: 'noPin' } : { say: 'askPin', reprompt: 'askPin', elicit: { slot: 'pin', intent: withoutPin(turn.intent!) } }),
  PIN_INVALID: (turn) => ({ say: 'wrongPin', reprompt: 'askPin', elicit: { slot: 'pin', intent: withoutPin(turn.intent!) } }),
  PIN_LOCKED: () => ({ say: 'pinLocked' }),
  POLICY_DENIED: () => ({ say: 'notByVoice' }),
  CONFIRMATION_REQUIRED: () => ({ say: 'notByVoice' }),
  DEVICE_NOT_FOUND: () => ({ say: 'noSuchDevice' }),
  DEVICE_OFFLINE: () => ({ say: 'offline' }),
  COMMAND_TIMEOUT: () => ({ say: 'tooSlow' }),
  VALIDATION_FAILED: () => ({ say: 'unknownCommand' }),
  RATE_LIMITED: () => ({ say: 'tooMany' }),
};

/** A finished (or parked) command, as what to say. */
const ON_STATUS: Partial<Record<CommandStatus, Spoken['say']>> = {
  succeeded: 'done', awaiting_approval: 'approvalSent', failed: 'deviceFailed', expired: 'tooSlow', denied: 'denied',
};

const params = (about: About) => ({ device: about.spoken, command: about.said });

/** The answer to a refusal the table names; anything else is thrown on (our failure: skill.ts says so). */
export function answerForError(turn: Turn, error: unknown, about: About): Answer {
  const spoken = isGatewayError(error) ? ON_ERROR[error.code]?.(turn, error) : undefined;
  if (!spoken || !isGatewayError(error)) throw error;
  return { ...spoken, params: params(about), outcome: error.code, device: about.device, command: about.command };
}

export function answerForStatus(status: CommandStatus, about: About): Answer {
  return { say: ON_STATUS[status] ?? 'tooSlow', params: params(about), outcome: status.toUpperCase(), device: about.device, command: about.command };
}
