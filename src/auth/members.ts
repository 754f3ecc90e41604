import { recordSecurityEvent } from '../core/audit-log.js';
import { GatewayError } from '../core/errors.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import { ROLES, type Role, type TenantContext } from './context.js';
import { hashSecret } from './secrets.js';

export type Member = { id: string; email: string; role: Role; existingUser: boolean };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 10;

/**
 * Adds a person to the caller's tenant with a role. A user is a global
 * identity: an email already known from another tenant gains a membership and
 * keeps its own password.
 */
export async function addMember(
  db: Database,
  policy: AccessPolicy,
  ctx: TenantContext,
  input: { email: string; password: string; role: Role },
): Promise<Member> {
  await policy.requireAccess(ctx, 'tenant.members.manage');
  if (!EMAIL.test(input.email)) throw new GatewayError('VALIDATION_FAILED', `"${input.email}" is not an email address.`);
  if (!ROLES.includes(input.role)) throw new GatewayError('VALIDATION_FAILED', `Role must be one of ${ROLES.join(', ')}.`);
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new GatewayError('VALIDATION_FAILED', `The password must have at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  const passwordHash = await hashSecret(input.password);
  // Users are global, so the user row is a platform write; the membership is the tenant's.
  const user = await db.withPlatform(async (tx) => {
    const inserted = await tx.query<{ id: string; email: string }>(
      'INSERT INTO users (email, password_hash) VALUES ($1, $2) ON CONFLICT (lower(email)) DO NOTHING RETURNING id, email',
      [input.email, passwordHash],
    );
    if (inserted.rows[0]) return { ...inserted.rows[0], existingUser: false };
    const existing = await tx.query<{ id: string; email: string }>('SELECT id, email FROM users WHERE lower(email) = lower($1)', [input.email]);
    return { ...existing.rows[0]!, existingUser: true };
  });
  try {
    await db.withTenant(ctx, async (tx) => {
      await tx.query('INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)', [ctx.tenantId, user.id, input.role]);
      await recordSecurityEvent(tx, ctx, { type: 'MEMBERSHIP_CREATED', userId: user.id, details: { role: input.role, newUser: !user.existingUser } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new GatewayError('CONFLICT', `${input.email} is already a member of this tenant.`);
    throw error;
  }
  return { id: user.id, email: user.email, role: input.role, existingUser: user.existingUser };
}
