import { googleType } from '../device-types.js';
import { audit, exposedDevices, type IntentHandler } from './intent.js';
import { sceneDevices } from './scenes.js';

/** https://developers.home.google.com/cloud-to-cloud/intents/sync */
export const sync: IntentHandler = async (intent) => {
  const { core, ctx, requestId } = intent;
  const agentUserId = await core.voiceAccounts.userIdFor(ctx, 'google');
  const reports = await core.voiceCredentials.isSet(ctx.tenantId);
  const names = (await core.devices.list(ctx)).filter((device) => device.status === 'active').map((device) => device.name);
  const devices = [...(await exposedDevices(intent, names)).values()].map((device) => ({
    id: device.name,
    type: googleType(device.type, device.traits),
    traits: device.traits.map((trait) => trait.name),
    name: { name: device.displayName ?? device.name, ...(device.nicknames.length > 0 ? { nicknames: device.nicknames } : {}) },
    // With a Home Graph service account the reporter tells Google of every change; without, Google must QUERY.
    willReportState: reports,
    ...(device.room ? { roomHint: device.room } : {}),
    attributes: Object.assign({}, ...device.traits.map((trait) => trait.attributes?.(new Set(device.capabilities)) ?? {})),
  }));
  await audit(intent, [{ intent: 'SYNC', requestId, outcome: 'SUCCESS' }]);
  return { agentUserId, devices: [...devices, ...(await sceneDevices(intent))] };
};
