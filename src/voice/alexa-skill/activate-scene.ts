import type { SceneCommandResult, VoiceScene } from '../../core/scenes/scene-service.js';
import { answerForError, Early } from './answers.js';
import { matchDevice, matchSpoken, spokenName } from './device-match.js';
import { commandWords, listOf, say, type SpeechKey } from './speech.js';
import { pinSaid, slotValue, type Answer, type Turn } from './turn.js';

/** A finished (or parked) command of the scene, as what to say of it. */
const STEP: Readonly<Record<string, SpeechKey>> = { succeeded: 'stepDone', failed: 'stepFailed', awaiting_approval: 'stepApproval', denied: 'stepDenied', expired: 'stepPending' };

/**
 * A scene by voice (ActivateSceneIntent), one the Smart Home skill cannot
 * offer when it needs the PIN (SceneController.Activate carries none): the
 * caller's voice scene the words name, activated through the core's scene
 * service under the caller's own context with the PIN Alexa collected (asked
 * for, and asked again, as for a single command: the same PIN gate and
 * lockout). The request id keys its commands (Alexa's retry makes none twice).
 * Each command's device is then waited for, together, as a single command
 * is, and the answer tells each command's result.
 */
export async function activateSceneIntent(turn: Turn): Promise<Answer> {
  const said = slotValue(turn, 'scene')?.said;
  if (!said) throw new Early({ say: 'whichScene', reprompt: 'whichScene', ...(turn.intent ? { elicit: { slot: 'scene', intent: turn.intent } } : {}), outcome: 'SCENE_MISSING' });
  const scene = await sceneNamed(turn, said);
  return scene ? activateScene(turn, scene) : { say: 'noSuchScene', params: { scene: said }, outcome: 'SCENE_NOT_FOUND' };
}

/** The caller's voice scene (offered, every command passing the caller's gate) the words name. */
const sceneNamed = async (turn: Turn, said: string): Promise<VoiceScene | undefined> => matchSpoken(await turn.core.scenes.forVoice(turn.ctx), (s) => [s.name], said);

/** The scene through the core's scene service, with the PIN of the `pin` slot; its refusals answered as a single command's are. */
export async function activateScene(turn: Turn, scene: VoiceScene): Promise<Answer> {
  const pin = pinSaid(turn);
  const about = { device: `scene:${scene.id}`, spoken: scene.name, command: 'activate_scene', said: commandWords(turn.locale, 'activate_scene') };
  try {
    const { results } = await turn.core.scenes.activate(turn.ctx, scene.id, { pin }, `alexa-skill:${turn.requestId}`);
    const steps = await settled(turn, results);
    return { say: 'sceneResult', params: { scene: scene.name, results: listOf(turn.locale, steps) }, outcome: 'ACTIVATED', device: about.device, command: about.command, pinUsed: Boolean(pin) };
  } catch (error) {
    return { ...answerForError(turn, error, about), pinUsed: Boolean(pin) };
  }
}

/**
 * "Activate good night", "run scene good night": Alexa may hear a scene's name
 * as RunCapabilityIntent's device with the command activate_scene (which some
 * devices have). A device the words name wins; else a voice scene they name.
 */
export async function sceneSaidAsDevice(turn: Turn): Promise<VoiceScene | undefined> {
  const said = slotValue(turn, 'device')?.said;
  if (!said || slotValue(turn, 'command')?.id !== 'activate_scene') return undefined;
  if (matchDevice(await turn.core.devices.list(turn.ctx), said)) return undefined;
  return sceneNamed(turn, said);
}

/** Each command's result as words, after waiting up to the skill's wait for the devices' answers (at once, not one after another). */
async function settled(turn: Turn, results: readonly SceneCommandResult[]): Promise<string[]> {
  const names = new Map((await turn.core.devices.list(turn.ctx)).map((device) => [device.name, spokenName(device)]));
  return Promise.all(results.map(async (result) => {
    const words = { device: names.get(result.device) ?? result.device, command: commandWords(turn.locale, result.command) };
    if (result.outcome === 'refused') return say(turn.locale, result.error.code === 'DEVICE_OFFLINE' ? 'stepOffline' : 'stepNotSent', words);
    const status = result.status === 'awaiting_approval' ? result.status : (await turn.core.commands.waitFor(turn.ctx, result.commandId, turn.waitMs)).status;
    return say(turn.locale, STEP[status] ?? 'stepPending', words);
  }));
}
