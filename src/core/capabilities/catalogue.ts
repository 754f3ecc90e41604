import { GatewayError } from '../errors.js';
import { ACCESS } from './access.js';
import type { CapabilityDefinition, CommandDefinition } from './capability.js';
import { CLIMATE } from './climate.js';
import { LIGHTING } from './lighting.js';
import { MAINTENANCE } from './maintenance.js';
import { SENSORS } from './sensors.js';

/**
 * The capability catalogue: what a device can be told to do, with which
 * parameters and at which risk, and what it reports. The core owns it; the
 * voice adapters map each capability to an Alexa interface or a Google trait
 * in their own registries (DESIGN.md §4.4).
 */
export const CAPABILITIES = { ...LIGHTING, ...ACCESS, ...CLIMATE, ...SENSORS, ...MAINTENANCE } as const satisfies Record<string, CapabilityDefinition>;

export type CapabilityName = keyof typeof CAPABILITIES;
export const CAPABILITY_NAMES = Object.keys(CAPABILITIES) as CapabilityName[];

/** What a device is, for the voice platforms' device lists (Google device types, Alexa display categories). */
export const DEVICE_TYPES = ['light', 'switch', 'outlet', 'lock', 'thermostat', 'sensor', 'garage', 'blinds', 'fan', 'security_panel', 'other'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export type CatalogueCommand = CommandDefinition & { capability: CapabilityName; name: string };

/** Every command by its name; names are unique across the catalogue (a unit test holds it to that). */
const COMMANDS: ReadonlyMap<string, CatalogueCommand> = new Map(
  CAPABILITY_NAMES.flatMap((capability) =>
    Object.entries((CAPABILITIES[capability] as CapabilityDefinition).commands).map(([name, command]) => [name, { ...command, capability, name }] as const)),
);

export function isCapabilityName(name: string): name is CapabilityName {
  return Object.hasOwn(CAPABILITIES, name);
}

export function capabilityDefinition(name: CapabilityName): CapabilityDefinition {
  return CAPABILITIES[name];
}

/** The catalogue's command of this name, with the capability it belongs to (`unlock` → `lock`). */
export function catalogueCommand(name: string): CatalogueCommand | undefined {
  return COMMANDS.get(name);
}

export function allCommands(): CatalogueCommand[] {
  return [...COMMANDS.values()];
}

/** A capability name for a new device, or VALIDATION_FAILED naming it (and the capability, if it named a command). */
export function assertCapabilityName(name: string): CapabilityName {
  if (isCapabilityName(name)) return name;
  const command = catalogueCommand(name);
  const hint = command ? ` "${name}" is a command of the capability "${command.capability}".` : '';
  throw new GatewayError('VALIDATION_FAILED', `Unknown capability "${name}".${hint} Capabilities: ${CAPABILITY_NAMES.join(', ')}.`, { capability: name });
}

export function assertDeviceType(type: string): DeviceType {
  if ((DEVICE_TYPES as readonly string[]).includes(type)) return type as DeviceType;
  throw new GatewayError('VALIDATION_FAILED', `Unknown device type "${type}". Types: ${DEVICE_TYPES.join(', ')}.`, { type });
}
