import type { TSchema } from 'typebox';
import { catalogueCommand, isCapabilityName } from './catalogue.js';
import { checkParams } from './command-params.js';
import { effectiveRisk, type EffectiveRisk } from './risk.js';

/** One row of device_capabilities: a capability the device has, with the tenant's tightening. */
export type DeviceCapability = { name: string; requiresPin: boolean; requiresApproval: boolean };

/** A command as a given device understands it. */
export type ResolvedCommand = EffectiveRisk & {
  command: string;
  /** The device's capability that accepts it. */
  capability: string;
  /** Its parameter schema; undefined for a command of a capability registered before the catalogue existed. */
  params: TSchema | undefined;
};

/**
 * Which of the device's capabilities accepts `command`, and at which risk; or
 * undefined (default deny). A catalogue command belongs to its capability
 * (`unlock` to `lock`). Rows written before the catalogue named the command
 * itself (`unlock`, or a free-form name such as `ping`): such a row still
 * accepts that one command, with the catalogue's schema and risk when the
 * catalogue knows the command, and unchecked parameters at the row's own
 * risk when it does not.
 */
export function resolveCommand(capabilities: readonly DeviceCapability[], command: string): ResolvedCommand | undefined {
  const known = catalogueCommand(command);
  const row = (known && capabilities.find((c) => c.name === known.capability)) ?? capabilities.find((c) => c.name === command);
  if (!row) return undefined;
  if (known) return { command, capability: row.name, params: known.params, ...effectiveRisk(known.risk, row) };
  // A catalogue capability name that is not also one of its commands (`power`) is no command.
  if (isCapabilityName(row.name)) return undefined;
  return { command, capability: row.name, params: undefined, ...effectiveRisk('normal', row) };
}

/** Checks `params` against the command's schema (VALIDATION_FAILED naming the parameter); free-form legacy commands take any object. */
export function checkCommandParams(resolved: ResolvedCommand, params: Record<string, unknown>): void {
  if (resolved.params) checkParams(resolved.command, resolved.params, params);
}
