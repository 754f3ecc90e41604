import type { CapabilityName } from '../../../core/capabilities/catalogue.js';

/** A command as the core takes it (a catalogue command and its parameters). */
export type CoreCommand = { name: string; params: Record<string, unknown> };

type Values = Record<string, unknown>;

/**
 * One Google trait over one capability of the catalogue (Home Assistant's
 * google_assistant/trait.py: a class per trait). It only translates: the core
 * decides whether a command may run, with which PIN, and refuses bad values.
 * https://developers.home.google.com/cloud-to-cloud/traits
 */
export type Trait = Readonly<{
  /** `action.devices.traits.<Name>` */
  name: string;
  capability: CapabilityName;
  /** SYNC attributes. */
  attributes?: (capabilities: ReadonlySet<string>) => Values;
  /** QUERY (and EXECUTE) states from the fields the device reported (the catalogue's). */
  state?: (reported: Values, capabilities: ReadonlySet<string>) => Values;
  /** EXECUTE: Google's command → the core's; the states Google should hear the command set. */
  commands?: Readonly<Record<string, (params: Values) => CoreCommand>>;
  executed?: (params: Values) => Values;
  /** Left out of SYNC when the device also has this capability (its trait says it better). */
  supersededBy?: CapabilityName;
}>;

export const TRAIT = (name: string): string => `action.devices.traits.${name}`;
export const COMMAND = (name: string): string => `action.devices.commands.${name}`;

/** The state fields a device reported, when present. */
export function pick(reported: Values, mapping: Record<string, string>): Values {
  const out: Values = {};
  for (const [field, google] of Object.entries(mapping)) if (reported[field] !== undefined) out[google] = reported[field];
  return out;
}
