/**
 * How dangerous a command is, which decides the gate it must pass
 * (seed 003 "Run high-risk actions"; DESIGN.md §5 on what Google certifies):
 * - `normal`: any channel the tenant allows;
 * - `sensitive` (unlock, open, disarm): the voice PIN on voice, an explicit
 *   confirmation on web and mobile;
 * - `critical` (factory reset, firmware update): a person's approval, and never
 *   through a voice assistant.
 */
export type RiskClass = 'normal' | 'sensitive' | 'critical';

export const RISK_CLASSES: readonly RiskClass[] = ['normal', 'sensitive', 'critical'];

/** A tenant's per-device tightening of a capability (seed 003's `requires_pin`, `requires_approval` on device_capabilities). */
export type Tightening = { requiresPin: boolean; requiresApproval: boolean };

export type EffectiveRisk = {
  /** The catalogue's class for the command: the floor no tenant setting goes below. */
  catalogueRisk: RiskClass;
  /** The class to enforce: the catalogue's, raised by the device's tightening. */
  risk: RiskClass;
  /** The tenant asked for the PIN on every channel for this device, not only on voice. */
  requiresPin: boolean;
  /** A person must approve it first (every critical command). */
  requiresApproval: boolean;
};

export function riskRank(risk: RiskClass): number {
  return RISK_CLASSES.indexOf(risk);
}

export function higherRisk(a: RiskClass, b: RiskClass): RiskClass {
  return riskRank(a) >= riskRank(b) ? a : b;
}

/**
 * The catalogue's class raised by a tenant's tightening. The flags can only
 * add to it: `false` means "as the catalogue says", so no setting loosens a
 * command below its catalogue class.
 */
export function effectiveRisk(catalogueRisk: RiskClass, tightening: Tightening): EffectiveRisk {
  let risk = catalogueRisk;
  if (tightening.requiresPin) risk = higherRisk(risk, 'sensitive');
  if (tightening.requiresApproval) risk = higherRisk(risk, 'critical');
  return { catalogueRisk, risk, requiresPin: tightening.requiresPin, requiresApproval: risk === 'critical' };
}
