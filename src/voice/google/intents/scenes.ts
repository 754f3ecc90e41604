import { createHash } from 'node:crypto';
import { isGatewayError } from '../../../core/errors.js';
import type { SceneActivation } from '../../../core/scenes/scene-service.js';
import type { VoiceIntentRecord } from '../../../core/voice-accounts.js';
import { googleOutcome, type GoogleOutcome } from '../error-codes.js';
import type { Intent } from './intent.js';

/** A scene's Google device id: scenes and devices share SYNC's one list. */
const PREFIX = 'scene:';
export const isSceneId = (id: string) => id.startsWith(PREFIX);
const ACTIVATE = 'action.devices.commands.ActivateScene';

type Execution = { command: string; params?: Record<string, unknown>; challenge?: { pin?: unknown; ack?: unknown } };

/** The tenant's scenes Google may activate, as SYNC devices of the Scene trait (not reversible: a scene is a list of commands). */
export async function sceneDevices({ core, ctx }: Intent): Promise<Record<string, unknown>[]> {
  return (await core.scenes.forVoice(ctx)).map((scene) => ({
    id: `${PREFIX}${scene.id}`, type: 'action.devices.types.SCENE', traits: ['action.devices.traits.Scene'],
    name: { name: scene.name }, willReportState: false, attributes: { sceneReversible: false },
  }));
}

/** QUERY of a scene: there is no state to read, only whether Google may still see it. */
export async function sceneStates({ core, ctx }: Intent, ids: readonly string[]): Promise<Record<string, Record<string, unknown>>> {
  const offered = new Set((await core.scenes.forVoice(ctx)).map((scene) => `${PREFIX}${scene.id}`));
  return Object.fromEntries(ids.map((id) => [id, offered.has(id) ? { online: true, status: 'SUCCESS' } : { online: false, status: 'ERROR', errorCode: 'deviceNotFound' }]));
}

/** Every command of the scene made (some may wait for a person's approval): SUCCESS; one refused at issue: an error Google can say. */
function fromActivation({ results }: SceneActivation): GoogleOutcome {
  const refused = results.find((result) => result.outcome === 'refused');
  return refused ? { status: 'ERROR', errorCode: refused.error.code === 'DEVICE_OFFLINE' ? 'deviceOffline' : 'transientError' } : { status: 'SUCCESS' };
}

/** ActivateScene through the core's scene service: its PIN challenge as Google's two-factor, a retried request made once. */
export async function executeScene(intent: Intent, id: string, executions: Execution[], audit: VoiceIntentRecord[]): Promise<{ id: string; outcome: GoogleOutcome }> {
  const execution = executions[0];
  const pin = typeof execution?.challenge?.pin === 'string' ? execution.challenge.pin : undefined;
  let outcome: GoogleOutcome;
  if (executions.length !== 1 || execution!.command !== ACTIVATE || execution!.params?.deactivate === true) outcome = { status: 'ERROR', errorCode: 'notSupported' };
  else {
    try {
      const prefix = `google:${createHash('sha256').update(`${intent.requestId}\n${id}`).digest('base64url')}`;
      outcome = fromActivation(await intent.core.scenes.activate(intent.ctx, id.slice(PREFIX.length), { pin, confirm: execution!.challenge?.ack === true || pin !== undefined }, prefix));
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      outcome = error.code === 'SCENE_NOT_FOUND' ? { status: 'ERROR', errorCode: 'deviceNotFound' } : googleOutcome(error);
    }
  }
  const said = 'errorCode' in outcome ? outcome.challengeNeeded?.type ?? outcome.errorCode : outcome.status;
  audit.push({ intent: 'EXECUTE', requestId: intent.requestId, device: id, command: execution?.command ?? '', pinUsed: pin !== undefined, outcome: said });
  return { id, outcome };
}
