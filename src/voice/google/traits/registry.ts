import { ArmDisarm, ContactSensor, LockUnlock, OpenClose } from './access.js';
import { FanSpeed, TemperatureSetting } from './climate.js';
import { Brightness, ColorSetting, OnOff, Scene } from './lighting.js';
import { EnergyStorage, HumiditySetting, TemperatureControl } from './sensors.js';
import type { CoreCommand, Trait } from './trait.js';

/** Every trait Gatehouse serves, one per capability of the catalogue that Google can show. */
export const TRAITS: readonly Trait[] = [
  OnOff, Brightness, ColorSetting, Scene, LockUnlock, OpenClose, ContactSensor, ArmDisarm,
  TemperatureSetting, FanSpeed, TemperatureControl, HumiditySetting, EnergyStorage,
];

/**
 * The traits of a device with these capabilities, among those `exposed` lets
 * through (the tenant's voice policy: a capability with commands that is not
 * enabled for Google is not shown, nor is any critical one).
 */
export function traitsFor(capabilities: readonly string[], exposed: (capability: string) => boolean): Trait[] {
  const has = new Set(capabilities);
  return TRAITS.filter((trait) => has.has(trait.capability) && exposed(trait.capability) && !(trait.supersededBy && has.has(trait.supersededBy)));
}

/** The trait among `traits` that takes this Google command, and the core command it becomes. */
export function translate(traits: readonly Trait[], command: string, params: Record<string, unknown>): { trait: Trait; core: CoreCommand } | undefined {
  const trait = traits.find((candidate) => candidate.commands?.[command]);
  return trait ? { trait, core: trait.commands![command]!(params) } : undefined;
}

/** The Google states of a device's traits, from what it reported. */
export function statesOf(traits: readonly Trait[], reported: Record<string, unknown>, capabilities: readonly string[]): Record<string, unknown> {
  const has = new Set(capabilities);
  return Object.assign({}, ...traits.map((trait) => trait.state?.(reported, has) ?? {}));
}
