import type { ConversationV3 } from '@assistant/conversation';
import type { TenantContext } from '../../../auth/context.js';
import type { Core } from '../../../core/create-core.js';
import { isGatewayError, type ErrorCode } from '../../../core/errors.js';
import { exposedDevices, type ExposedDevice } from '../intents/intent.js';
import { commandSentence, listSentence, spokenName, stateSentence } from './speech.js';

/** One webhook turn: the person's context (from user.params.bearerToken), the conversation, and what it answered for the audit. */
export type Turn = { core: Core; ctx: TenantContext; conv: ConversationV3; waitMs: number; outcome: (outcome: string, device?: string, command?: string, pinUsed?: boolean) => void };
export type ConversationHandler = (turn: Turn) => Promise<void>;

/** The Actions Builder scene that collects the `pin` slot and calls run_command again. */
export const PIN_SCENE = 'AskPin';
/** The scene that asks "are you sure?" (slot `confirm`, yes or no) where the tenant asks Google for an acknowledgement. */
export const CONFIRM_SCENE = 'AskConfirm';
const END = 'actions.scene.END_CONVERSATION';

type Params = Record<string, { resolved?: unknown; original?: unknown } | undefined>;
const session = (conv: ConversationV3): Record<string, unknown> => (conv.session.params ??= {});
const param = (conv: ConversationV3, name: string): string | undefined => {
  const value = (conv.intent.params as Params | undefined)?.[name];
  const said = value?.resolved ?? value?.original ?? (conv.scene.slots?.[name]?.value as unknown);
  return typeof said === 'string' || typeof said === 'number' ? String(said) : undefined;
};

/** The device the person named: by its name, display name or a nickname, among those Google may see. */
async function named(turn: Turn, spoken: string | undefined): Promise<ExposedDevice | undefined> {
  const names = (await turn.core.devices.list(turn.ctx)).filter((device) => device.status === 'active').map((device) => device.name);
  const wanted = spoken?.toLowerCase().trim();
  return [...(await exposedDevices(turn, names)).values()].find((device) =>
    [device.name, device.name.replace(/[-_]+/g, ' '), device.displayName ?? '', ...device.nicknames].some((name) => name.toLowerCase() === wanted));
}

/** The device and catalogue command asked for, or, back from the PIN or confirmation scene, kept in the session. */
async function commandTarget(turn: Turn): Promise<{ device?: ExposedDevice; command?: string }> {
  const pending = session(turn.conv).pending as { device?: string; command?: string } | undefined;
  const device = await named(turn, param(turn.conv, 'device') ?? pending?.device);
  return { device, command: (param(turn.conv, 'command') ?? pending?.command)?.toLowerCase().trim().replace(/\s+/g, '_') };
}

/** What the core's refusals sound like; the PIN ones also steer the scene. */
const REFUSALS: Partial<Record<ErrorCode, (turn: Turn, name: string, details: Record<string, unknown>) => string>> = {
  DEVICE_OFFLINE: (_turn, name) => `${name} is offline.`,
  COMMAND_TIMEOUT: (_turn, name) => `I sent it, but ${name} has not answered yet.`,
  POLICY_DENIED: () => 'I cannot do that by voice.',
  VALIDATION_FAILED: () => 'That device cannot do that.',
  CONFIRMATION_REQUIRED: ({ conv }, name, details) => {
    if (details.ack !== true) return 'That needs a confirmation I cannot take by voice.';
    conv.scene.next = { name: CONFIRM_SCENE };
    return `Are you sure you want to do that to ${name}?`;
  },
  PIN_REQUIRED: ({ conv }, _name, details) => {
    if (details.pinSet === false) return 'Set a voice PIN in the Gatehouse app first.';
    conv.scene.next = { name: PIN_SCENE };
    return 'What is your voice PIN?';
  },
  PIN_INVALID: ({ conv }) => {
    // An INVALID slot is asked for again (https://developers.google.com/assistant/conversational/scenes#slot_filling).
    if (conv.scene.slots?.pin) conv.scene.slots.pin = { ...conv.scene.slots.pin, status: 'INVALID' as typeof conv.scene.slots.pin.status, updated: true };
    conv.scene.next = { name: PIN_SCENE };
    return 'That PIN is wrong. What is your voice PIN?';
  },
  PIN_LOCKED: ({ conv }) => {
    delete session(conv).pending;
    conv.scene.next = { name: END };
    return 'Too many wrong PINs. Try again later.';
  },
};

/** The handlers by the webhook handler names the Actions project calls (deploy/google/README.md). */
export const HANDLERS: Readonly<Record<string, ConversationHandler>> = {
  async list_devices(turn) {
    const names = (await turn.core.devices.list(turn.ctx)).filter((device) => device.status === 'active').map((device) => device.name);
    turn.conv.add(listSentence([...(await exposedDevices(turn, names)).values()]));
    turn.outcome('SUCCESS');
  },

  async device_state(turn) {
    const device = await named(turn, param(turn.conv, 'device'));
    if (!device) return void (turn.conv.add('I do not know that device.'), turn.outcome('deviceNotFound'));
    turn.conv.add(stateSentence(device, param(turn.conv, 'state')));
    turn.outcome('SUCCESS', device.name);
  },

  async run_command(turn) {
    const { conv, core, ctx, waitMs } = turn;
    const { device, command } = await commandTarget(turn);
    if (!device || !command) return void (conv.add('I do not know that device.'), turn.outcome('deviceNotFound'));
    const pin = param(conv, 'pin');
    const answer = param(conv, 'confirm')?.toLowerCase();
    if (answer === 'no') return void (delete session(conv).pending, conv.add('Cancelled.'), turn.outcome('CANCELLED', device.name, command));
    const name = spokenName(device);
    try {
      // Yes to "are you sure?", or a PIN (asked after it: the session keeps only the last answer), acknowledges.
      const done = await core.commands.issueAndWait(ctx, device.name, { name: command, params: {}, pin, confirm: answer === 'yes' || pin !== undefined }, waitMs);
      delete session(conv).pending;
      const { say, outcome } = commandSentence(done.status, name, command);
      conv.add(say);
      turn.outcome(outcome, device.name, command, pin !== undefined);
    } catch (error) {
      const say = isGatewayError(error) ? REFUSALS[error.code] : undefined;
      if (!say || !isGatewayError(error)) throw error;
      if (['PIN_REQUIRED', 'PIN_INVALID', 'CONFIRMATION_REQUIRED'].includes(error.code)) session(conv).pending = { device: device.name, command };
      conv.add(say(turn, name, error.details));
      turn.outcome(error.code, device.name, command, pin !== undefined);
    }
  },
};
