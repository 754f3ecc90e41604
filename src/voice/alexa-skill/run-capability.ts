import { answerForError, answerForStatus, Early, type About } from './answers.js';
import { spokenName } from './device-match.js';
import { deviceSaid } from './device-slot.js';
import { pinSaid, slotValue, type Answer, type Turn } from './turn.js';

/**
 * The `command` slot's values (ids of the CommandName slot type in
 * deploy/alexa-skill/interactionModel.*.json) as catalogue commands: those a
 * person says without a number. Which of them a device accepts, and on which
 * terms (voice policy, PIN, approval), is the core's to say.
 */
export const SPOKEN_COMMANDS: Readonly<Record<string, { name: string; params?: Record<string, unknown> }>> = {
  turn_on: { name: 'turn_on' }, turn_off: { name: 'turn_off' },
  open: { name: 'open' }, close: { name: 'close' }, stop: { name: 'stop' },
  lock: { name: 'lock' }, unlock: { name: 'unlock' },
  arm: { name: 'arm', params: { mode: 'away' } }, disarm: { name: 'disarm' },
  activate_scene: { name: 'activate_scene' }, restart: { name: 'restart' },
  factory_reset: { name: 'factory_reset' }, update_firmware: { name: 'update_firmware' },
};

/**
 * A command through the core's command service, waiting briefly for the
 * device: the request id is the idempotency key (Alexa retries a request
 * with the same one), the PIN (when Alexa collected one) goes to the core's
 * gate and nowhere else. The command expires with the wait, so a device that
 * missed the moment never acts on it later.
 */
export async function runCapability(turn: Turn): Promise<Answer> {
  const device = await deviceSaid(turn);
  const said = slotValue(turn, 'command');
  if (!said) throw new Early({ say: 'whichCommand', reprompt: 'whichCommand', elicit: { slot: 'command', intent: turn.intent! }, device: device.name, outcome: 'COMMAND_MISSING' });
  const command = SPOKEN_COMMANDS[said.id];
  if (!command) return { say: 'unknownCommand', params: { command: said.said }, device: device.name, outcome: 'UNKNOWN_COMMAND' };
  const pin = pinSaid(turn);
  const about: About = { device: device.name, spoken: spokenName(device), command: command.name, said: said.said };
  try {
    const done = await turn.core.commands.issueAndWait(turn.ctx, device.name, {
      name: command.name, params: command.params ?? {}, pin, idempotencyKey: `alexa-skill:${turn.requestId}`, ttlSeconds: Math.ceil(turn.waitMs / 1000) + 1,
    }, turn.waitMs);
    return { ...answerForStatus(done.status, about), pinUsed: Boolean(pin) };
  } catch (error) {
    return { ...answerForError(turn, error, about), pinUsed: Boolean(pin) };
  }
}
