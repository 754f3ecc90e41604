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
export type VoicePolicyChange = { capability: string; enabled: boolean; requiresPin: boolean; requiresAck?: boolean; platformVoiceCode?: boolean };

/** A capability's risk for voice: its most dangerous command's. */
function capabilityRisk(name: CapabilityName): RiskClass {
  const { commands } = CAPABILITIES[name] as CapabilityDefinition;
  return Object.values(commands).reduce<RiskClass>((risk, command) => higherRisk(risk, command.risk), 'normal');
}

/** The capabilities a voice assistant can act on: those with commands. */
const COMMANDABLE = CAPABILITY_NAMES.filter((name) => Object.keys((CAPABILITIES[name] as CapabilityDefinition).commands).length > 0);

/** The catalogue's default: normal on; sensitive on with the PIN; critical off (and it stays off). */
export function defaultRule(risk: RiskClass): VoiceRule {
  return { enabled: risk !== 'critical', requiresPin: risk !== 'normal', requiresAck: false, platformVoiceCode: false };
}

const RULE_COLUMNS = 'enabled, requires_pin AS "requiresPin", requires_ack AS "requiresAck", platform_voice_code AS "platformVoiceCode"';

/** What a change may not ask for: a critical capability on, a sensitive one without the PIN, a flag the platform has no step for. */
function changeRefusal(platform: VoicePlatform, change: VoicePolicyChange): string | undefined {
  if (!isCapabilityName(change.capability) || !COMMANDABLE.includes(change.capability)) {
    return `"${change.capability}" is not a capability with commands. Capabilities: ${COMMANDABLE.join(', ')}.`;
  }
  const risk = capabilityRisk(change.capability);
  if (risk === 'critical' && change.enabled) return `"${change.capability}" is critical: it needs a person's approval and cannot be enabled for voice.`;
  if (risk === 'sensitive' && change.enabled && !change.requiresPin) return `"${change.capability}" is sensitive: on voice it always needs the PIN.`;
  if (change.requiresAck && platform !== 'google') return 'requiresAck is Google\'s acknowledgement step; Alexa has none.';
  if (change.platformVoiceCode && platform !== 'alexa') return 'platformVoiceCode is Alexa\'s own voice code; Google passes the Gatehouse PIN.';
  if (change.platformVoiceCode && risk !== 'sensitive') return `"${change.capability}" has no sensitive command for Alexa's voice code to stand in for.`;
  return undefined;
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
      const refusal = changeRefusal(platform, change);
      if (refusal) throw new GatewayError('VALIDATION_FAILED', refusal, { capability: change.capability });
    }
    return this.db.withTenant(ctx, async (tx) => {
      for (const change of changes) {
        await tx.query(
          `INSERT INTO voice_capabilities (tenant_id, provider, capability, enabled, requires_pin, requires_ack, platform_voice_code) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, provider, capability) DO UPDATE SET enabled = EXCLUDED.enabled, requires_pin = EXCLUDED.requires_pin,
             requires_ack = EXCLUDED.requires_ack, platform_voice_code = EXCLUDED.platform_voice_code, updated_at = now()`,
          [ctx.tenantId, platform, change.capability, change.enabled, change.requiresPin, change.requiresAck ?? false, change.platformVoiceCode ?? false],
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
    return new Map(entries.map(({ capability, enabled, requiresPin, requiresAck, platformVoiceCode }) => [capability, { enabled, requiresPin, requiresAck, platformVoiceCode }]));
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
      `SELECT ${RULE_COLUMNS} FROM voice_capabilities WHERE provider = $1 AND capability = $2`, [platform, capability],
    )).rows[0];
    return enforceFloor(risk, row ?? defaultRule(risk));
  }

  private async read(tx: Tx, platforms: readonly VoicePlatform[]): Promise<VoicePolicyEntry[]> {
    const { rows } = await tx.query<VoiceRule & { platform: VoicePlatform; capability: string }>(
      `SELECT provider AS platform, capability, ${RULE_COLUMNS} FROM voice_capabilities WHERE provider = ANY($1::text[])`, [platforms],
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

/** What no stored row can loosen: critical off, sensitive with the PIN (or, on Alexa where chosen, its voice code). */
function enforceFloor(risk: RiskClass, rule: VoiceRule): VoiceRule {
  if (risk === 'critical') return { enabled: false, requiresPin: true, requiresAck: false, platformVoiceCode: false };
  const { enabled, requiresPin, requiresAck, platformVoiceCode } = rule;
  return { enabled, requiresPin: risk === 'sensitive' || requiresPin, requiresAck, platformVoiceCode: risk === 'sensitive' && platformVoiceCode };
}
