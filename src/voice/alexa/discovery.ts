import type { TenantContext } from '../../auth/context.js';
import { CAPABILITIES, isCapabilityName, type DeviceType } from '../../core/capabilities/catalogue.js';
import type { CapabilityDefinition } from '../../core/capabilities/capability.js';
import type { Core } from '../../core/create-core.js';
import { MAX_STATE_BATCH, type DeviceStateView } from '../../core/devices/device-registry.js';
import { ALWAYS, interfacesOf } from './capabilities.js';
import { sceneEndpoints } from './scenes.js';

/** Display categories by device type (https://developer.amazon.com/docs/device-apis/alexa-discovery.html#display-categories). */
const CATEGORY: Record<DeviceType, string> = {
  light: 'LIGHT', switch: 'SWITCH', outlet: 'SMARTPLUG', lock: 'SMARTLOCK', thermostat: 'THERMOSTAT', sensor: 'OTHER',
  garage: 'GARAGE_DOOR', blinds: 'INTERIOR_BLIND', fan: 'FAN', security_panel: 'SECURITY_PANEL', other: 'OTHER',
};
const SENSOR_CATEGORY: Record<string, string> = { temperature: 'TEMPERATURE_SENSOR', contact: 'CONTACT_SENSOR', motion: 'MOTION_SENSOR' };

function categoriesOf(device: DeviceStateView): string[] {
  if (device.type === 'sensor') {
    const sensors = device.capabilities.flatMap((c) => SENSOR_CATEGORY[c] ?? []);
    return sensors.length ? sensors : ['OTHER'];
  }
  if (device.type === 'other' && device.capabilities.includes('scene')) return ['SCENE_TRIGGER'];
  return [CATEGORY[device.type]];
}

/** Capabilities with commands count only when the tenant lets Alexa use them; sensors report to anyone who may read. */
function usable(capability: string, enabled: Set<string>): boolean {
  if (!isCapabilityName(capability)) return false;
  const commands = Object.keys((CAPABILITIES[capability] as CapabilityDefinition).commands);
  return commands.length === 0 || enabled.has(capability);
}

/**
 * One endpoint per device with at least one interface Alexa may use; its endpointId is the device's id (names may hold ".").
 * `proactive`: Gatehouse will send ChangeReports for this person (they granted Alexa events), so their properties are
 * proactivelyReported; saying so without a grant would make Alexa trust a cache no one updates.
 */
export function endpointOf(device: DeviceStateView, enabled: Set<string>, proactive = false): Record<string, unknown> | undefined {
  const specs = interfacesOf(device.capabilities.filter((c) => usable(c, enabled)));
  if (specs.length === 0) return undefined;
  return {
    endpointId: device.id,
    manufacturerName: 'Gatehouse',
    friendlyName: (device.displayName ?? device.name).slice(0, 128),
    description: `${device.room ? `${device.room}: ` : ''}${device.name} (Gatehouse)`.slice(0, 128),
    displayCategories: categoriesOf(device),
    capabilities: [...ALWAYS, ...specs.flatMap((spec) => spec.discovery)].map((c) =>
      (proactive && c.properties ? { ...c, properties: { ...c.properties, proactivelyReported: true } } : c)),
  };
}

/** Alexa.Discovery: the tenant's devices as the core lists them, filtered by its voice policy for Alexa. */
export async function discover(core: Core, ctx: TenantContext, proactive = false): Promise<Record<string, unknown>[]> {
  const names = (await core.devices.list(ctx)).filter((d) => d.status === 'active').map((d) => d.name);
  const enabled = await core.voicePolicy.enabledFor(ctx, 'alexa');
  const endpoints: Record<string, unknown>[] = [];
  for (let i = 0; i < names.length; i += MAX_STATE_BATCH) {
    const { devices } = await core.devices.readStates(ctx, names.slice(i, i + MAX_STATE_BATCH));
    for (const device of devices) {
      const endpoint = endpointOf(device, enabled, proactive);
      if (endpoint) endpoints.push(endpoint);
    }
  }
  return [...endpoints, ...(await sceneEndpoints(core, ctx))];
}
