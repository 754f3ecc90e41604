import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import type { Tx } from '../../db/database.js';
import { SECURITY_EVENT_TYPES } from '../audit-log.js';
import { GatewayError } from '../errors.js';
import { isValidTopicFilter } from '../topic-filter.js';

const Role = Type.Union([Type.Literal('viewer'), Type.Literal('member'), Type.Literal('admin'), Type.Literal('owner')]);
/** Members with at least this role, or the device's owner user (its tenant's admins when it has none). */
export const Audience = Type.Union([
  Type.Object({ minRole: Role }, { additionalProperties: false }),
  Type.Object({ deviceOwner: Type.Literal(true) }, { additionalProperties: false }),
]);
export type Audience = Static<typeof Audience>;

/** A tenant's rules: which causes become notifications, and for whom (GET/PUT /v1/push/rules). */
export const NotificationRules = Type.Object({
  deviceEvents: Type.Array(Type.Object({
    kind: Type.String({ maxLength: 200, description: 'A topic filter over the kind (the levels after events/): "alarm/#", "+/low".' }),
    to: Audience,
    critical: Type.Optional(Type.Boolean({ description: 'An alarm: sent through quiet hours, as a critical alert.' })),
  }, { additionalProperties: false }), { maxItems: 50 }),
  deviceOffline: Type.Union([Type.Object({ afterMinutes: Type.Integer({ minimum: 1, maximum: 10_080 }), to: Audience }, { additionalProperties: false }), Type.Null()]),
  /** Failed or expired commands, to whoever asked for them. */
  commandFailed: Type.Boolean(),
  /** Commands waiting for a person, to those who may approve them. */
  approvalRequested: Type.Boolean(),
  /** A voice PIN locked out, to its user. */
  pinLocked: Type.Boolean(),
  /**
   * Security events of these types, to the tenant's admins and owners, written in the transaction that records
   * the event: any type of the audit log (audit-log.ts); a name that is none of them is refused, not ignored.
   */
  securityEvents: Type.Array(Type.Enum(SECURITY_EVENT_TYPES), { maxItems: 50 }),
}, { additionalProperties: false });
export type NotificationRules = Static<typeof NotificationRules>;

/** A new tenant hears of alarms, approvals and lockouts without configuring anything. */
export const DEFAULT_RULES: NotificationRules = {
  deviceEvents: [{ kind: 'alarm/#', to: { minRole: 'member' }, critical: true }],
  deviceOffline: null,
  commandFailed: true,
  approvalRequested: true,
  pinLocked: true,
  securityEvents: ['REFRESH_TOKEN_REUSE'],
};

export function checkRules(rules: unknown): NotificationRules {
  if (!Value.Check(NotificationRules, rules)) {
    const error = (Value.Errors(NotificationRules, rules) as unknown as { instancePath: string; message: string }[])[0];
    throw new GatewayError('VALIDATION_FAILED', `Notification rules: ${error?.instancePath || '/'} ${error?.message ?? 'is invalid'}.`, { path: error?.instancePath ?? '' });
  }
  const valid = rules as NotificationRules;
  const bad = valid.deviceEvents.find((rule) => !isValidTopicFilter(rule.kind));
  if (bad) throw new GatewayError('VALIDATION_FAILED', `Notification rules: "${bad.kind}" is not a topic filter.`, { kind: bad.kind });
  return valid;
}

/** The tenant's rules, or the defaults (explicitly tenant-filtered: also read in the platform's expiry transaction). */
export async function rulesOf(tx: Tx, tenantId: string): Promise<NotificationRules> {
  const { rows } = await tx.query<{ rules: NotificationRules }>('SELECT rules FROM push_rules WHERE tenant_id = $1', [tenantId]);
  return rows[0]?.rules ?? DEFAULT_RULES;
}
