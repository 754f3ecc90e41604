import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import { AlexaError } from './errors.js';
import type { HandlerContext } from './handler-context.js';
import type { Reply } from './messages.js';

/** A scene's endpointId: devices use their uuid, so the prefix keeps the two apart. */
const PREFIX = 'scene:';
export const isSceneEndpoint = (id: string | undefined): id is string => id?.startsWith(PREFIX) ?? false;

/**
 * The tenant's scenes offered to voice, as SCENE_TRIGGER endpoints. SceneController.Activate carries no PIN,
 * so a scene one of whose commands needs the voice PIN is not offered here (Google's ActivateScene asks it).
 */
export async function sceneEndpoints(core: Core, ctx: TenantContext): Promise<Record<string, unknown>[]> {
  return (await core.scenes.forVoice(ctx)).filter((scene) => !scene.pin).map((scene) => ({
    endpointId: `${PREFIX}${scene.id}`, manufacturerName: 'Gatehouse', friendlyName: scene.name.slice(0, 128), description: 'Gatehouse scene',
    displayCategories: ['SCENE_TRIGGER'],
    capabilities: [
      { type: 'AlexaInterface', interface: 'Alexa', version: '3' },
      { type: 'AlexaInterface', interface: 'Alexa.SceneController', version: '3', supportsDeactivation: false },
    ],
  }));
}

/** Activate through the core's scene service (the message id keeps Alexa's retry from running it twice): ActivationStarted once every command is made. */
export async function activateScene(h: HandlerContext, endpointId: string): Promise<Reply> {
  const { results } = await h.core.scenes.activate(h.ctx, endpointId.slice(PREFIX.length), {}, `alexa:${h.directive.header.messageId}`);
  const refused = results.find((result) => result.outcome === 'refused');
  if (refused?.outcome === 'refused') throw new AlexaError(refused.error.code === 'DEVICE_OFFLINE' ? 'ENDPOINT_UNREACHABLE' : 'INTERNAL_ERROR', `${refused.device}: ${refused.error.message}`);
  return { namespace: 'Alexa.SceneController', name: 'ActivationStarted', payload: { cause: { type: 'VOICE_INTERACTION' }, timestamp: new Date().toISOString() }, properties: [] };
}
