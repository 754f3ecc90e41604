import type { TenantContext } from '../auth/context.js';
import type { Database, Tx } from '../db/database.js';
import { recordSecurityEvent } from './audit-log.js';
import { CAPABILITIES, CAPABILITY_NAMES, isCapabilityName, type CapabilityName } from './capabilities/catalogue.js';
import type { CapabilityDefinition } from './capabilities/capability.js';
import { higherRisk, type RiskClass } from './capabilities/risk.js';
import { GatewayError } from './errors.js';
import type { AccessPolicy } from './policy/access-policy.js';
import type { VoiceRule } from './policy/obligations.js';

export const VOICE_PLATFORMS = ['alexa', 'google'] as const;
export type VoicePlatform = (typeof VOICE_PLATFORMS)[number];

export type VoicePolicyEntry = VoiceRule & { platform: VoicePlatform; capability: string; risk: RiskClass; source: 'default' | 'tenant' };
export type VoicePolicyChange = { capability: string; enabled: boolean; requiresPin: boolean };

/** A capability's risk for voice: its most dangerous command's. */
function capabilityRisk(name: CapabilityName): RiskClass {
  const { commands } = CAPABILITIES[name] as CapabilityDefinition;
  return Object.values(commands).reduce<RiskClass>((risk, command) => higherRisk(risk, command.risk), 'normal');
}

/** The capabilities a voice assistant can act on: those with commands. */
const COMMANDABLE = CAPABILITY_NAMES.filter((name) => Object.keys((CAPABILITIES[name] as CapabilityDefinition).commands).length > 0);

/** The catalogue's default: normal on; sensitive on with the PIN; critical off (and it stays off). */
export function defaultRule(risk: RiskClass): VoiceRule {
  return { enabled: risk !== 'critical', requiresPin: risk !== 'normal' };
}

export function riskOfCapability(capability: string): RiskClass {
  // Free-form capabilities from before the catalogue are normal (resolveCommand treats them so).
  return isCapabilityName(capability) ? capabilityRisk(capability) : 'normal';
}

/**
 * The tenant's voice policy (seed 003's voice_capabilities): per platform,
 * which capabilities a voice assistant may use and whether each needs the
 * voice PIN. Rows are the tenant's choices; everything else is the catalogue's
 * default. A critical capability is never enabled for voice, and a sensitive
 * one always needs the PIN (the matrix's `pin` obligation), whatever is stored.
 */
export class VoicePolicy {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy) {}

  async list(ctx: TenantContext, platform?: VoicePlatform): Promise<VoicePolicyEntry[]> {
    this.policy.check(ctx, 'voice.policy.manage');
    return this.db.withTenant(ctx, (tx) => this.read(tx, platform ? [platform] : [...VOICE_PLATFORMS]));
  }

  async update(ctx: TenantContext, platform: VoicePlatform, changes: readonly VoicePolicyChange[]): Promise<VoicePolicyEntry[]> {
    this.policy.check(ctx, 'voice.policy.manage');
    if (!VOICE_PLATFORMS.includes(platform)) throw new GatewayError('VALIDATION_FAILED', `platform must be one of ${VOICE_PLATFORMS.join(', ')}.`);
    for (const change of changes) {
      if (!isCapabilityName(change.capability) || !COMMANDABLE.includes(change.capability)) {
        throw new GatewayError('VALIDATION_FAILED', `"${change.capability}" is not a capability with commands. Capabilities: ${COMMANDABLE.join(', ')}.`, { capability: change.capability });
      }
      const risk = capabilityRisk(change.capability);
      if (risk === 'critical' && change.enabled) {
        throw new GatewayError('VALIDATION_FAILED', `"${change.capability}" is critical: it needs a person's approval and cannot be enabled for voice.`, { capability: change.capability });
      }
      if (risk === 'sensitive' && change.enabled && !change.requiresPin) {
        throw new GatewayError('VALIDATION_FAILED', `"${change.capability}" is sensitive: on voice it always needs the PIN.`, { capability: change.capability });
      }
    }
    return this.db.withTenant(ctx, async (tx) => {
      for (const change of changes) {
        await tx.query(
          `INSERT INTO voice_capabilities (tenant_id, provider, capability, enabled, requires_pin) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id, provider, capability) DO UPDATE SET enabled = EXCLUDED.enabled, requires_pin = EXCLUDED.requires_pin, updated_at = now()`,
          [ctx.tenantId, platform, change.capability, change.enabled, change.requiresPin],
        );
      }
      await recordSecurityEvent(tx, ctx, { type: 'VOICE_POLICY_CHANGED', details: { platform, changes } });
      return this.read(tx, [platform]);
    });
  }

  /**
   * Every commandable capability's rule on one platform, for a voice platform's
   * device list (Google SYNC): what the caller may read, not manage.
   */
  async rulesFor(ctx: TenantContext, platform: VoicePlatform): Promise<Map<string, VoiceRule>> {
    this.policy.check(ctx, 'device.read');
    const entries = await this.db.withTenant(ctx, (tx) => this.read(tx, [platform]));
    return new Map(entries.map((entry) => [entry.capability, { enabled: entry.enabled, requiresPin: entry.requiresPin }]));
  }

  /**
   * The capabilities this platform may act on in the caller's tenant (Alexa Discovery): what the gate would allow.
   */
  async enabledFor(ctx: TenantContext, platform: VoicePlatform): Promise<Set<string>> {
    return new Set([...(await this.rulesFor(ctx, platform))].filter(([, rule]) => rule.enabled).map(([capability]) => capability));
  }

  /** The rule for one capability on one platform, inside the caller's transaction (no access check: the command gate asks). */
  async ruleFor(tx: Tx, platform: VoicePlatform, capability: string): Promise<VoiceRule> {
    const risk = riskOfCapability(capability);
    const row = (await tx.query<VoiceRule>(
      'SELECT enabled, requires_pin AS "requiresPin" FROM voice_capabilities WHERE provider = $1 AND capability = $2', [platform, capability],
    )).rows[0];
    return enforceFloor(risk, row ?? defaultRule(risk));
  }

  private async read(tx: Tx, platforms: readonly VoicePlatform[]): Promise<VoicePolicyEntry[]> {
    const { rows } = await tx.query<VoiceRule & { platform: VoicePlatform; capability: string }>(
      'SELECT provider AS platform, capability, enabled, requires_pin AS "requiresPin" FROM voice_capabilities WHERE provider = ANY($1::text[])', [platforms],
    );
    const stored = new Map(rows.map((row) => [`${row.platform}/${row.capability}`, row]));
    return platforms.flatMap((platform) =>
      COMMANDABLE.map((capability) => {
        const risk = capabilityRisk(capability);
        const row = stored.get(`${platform}/${capability}`);
        return { platform, capability, risk, ...enforceFloor(risk, row ?? defaultRule(risk)), source: row ? 'tenant' as const : 'default' as const };
      }),
    );
  }
}

/** What no stored row can loosen: critical off, sensitive with the PIN. */
function enforceFloor(risk: RiskClass, rule: VoiceRule): VoiceRule {
  if (risk === 'critical') return { enabled: false, requiresPin: true };
  if (risk === 'sensitive') return { enabled: rule.enabled, requiresPin: true };
  return { enabled: rule.enabled, requiresPin: rule.requiresPin };
}
