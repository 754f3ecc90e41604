import { statesOf } from '../traits/registry.js';
import { audit, exposedDevices, type IntentHandler } from './intent.js';
import { isSceneId, sceneStates } from './scenes.js';

type QueryPayload = { devices?: { id?: unknown }[] };

/** https://developers.home.google.com/cloud-to-cloud/intents/query: one batch read; an id this tenant has not is deviceNotFound. */
export const query: IntentHandler = async (intent, payload) => {
  const all = ((payload as QueryPayload).devices ?? []).map((device) => String(device.id));
  const ids = all.filter((id) => !isSceneId(id));
  const scenes = all.length > ids.length ? await sceneStates(intent, all.filter(isSceneId)) : {};
  const found = await exposedDevices(intent, ids);
  const devices = Object.fromEntries(ids.map((id) => {
    const device = found.get(id);
    if (!device) return [id, { online: false, status: 'ERROR', errorCode: 'deviceNotFound' }];
    if (!device.online) return [id, { online: false, status: 'OFFLINE' }];
    return [id, { online: true, status: 'SUCCESS', ...statesOf(device.traits, device.reported, device.capabilities) }];
  }));
  await audit(intent, [{ intent: 'QUERY', requestId: intent.requestId, outcome: 'SUCCESS' }]);
  return { devices: { ...devices, ...scenes } };
};
