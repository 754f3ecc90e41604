import { recordPlatformEvent, recordSecurityEvent } from '../core/audit-log.js';
import { GatewayError } from '../core/errors.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import { ROLES, type Role, type TenantContext } from './context.js';
import { hashSecret, verifySecret } from './secrets.js';
import type { Sessions } from './sessions.js';
import { findUserById } from './user-directory.js';

export type Member = { id: string; email: string; role: Role; existingUser: boolean };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 10;

function assertEmail(email: string): void {
  if (!EMAIL.test(email)) throw new GatewayError('VALIDATION_FAILED', `"${email}" is not an email address.`);
}

function assertPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new GatewayError('VALIDATION_FAILED', `The password must have at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
}

/**
 * People and their memberships. Every change that takes rights away also ends
 * the affected sessions, so it bites within seconds, not at token expiry.
 */
export class Members {
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly sessions: Sessions) {}

  /**
   * Adds a person to the caller's tenant with a role. A user is a global
   * identity: an email already known from another tenant gains a membership
   * and keeps its own password.
   */
  async add(ctx: TenantContext, input: { email: string; password: string; role: Role }): Promise<Member> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage');
    assertEmail(input.email);
    if (!ROLES.includes(input.role)) throw new GatewayError('VALIDATION_FAILED', `Role must be one of ${ROLES.join(', ')}.`);
    assertPassword(input.password);
    const passwordHash = await hashSecret(input.password);
    // Users are global, so the user row is a platform write; the membership is the tenant's.
    const user = await this.db.withPlatform(async (tx) => {
      const inserted = await tx.query<{ id: string; email: string }>(
        'INSERT INTO users (email, password_hash) VALUES ($1, $2) ON CONFLICT (lower(email)) DO NOTHING RETURNING id, email',
        [input.email, passwordHash],
      );
      if (inserted.rows[0]) return { ...inserted.rows[0], existingUser: false };
      const existing = await tx.query<{ id: string; email: string }>('SELECT id, email FROM users WHERE lower(email) = lower($1)', [input.email]);
      return { ...existing.rows[0]!, existingUser: true };
    });
    try {
      await this.db.withTenant(ctx, async (tx) => {
        await tx.query('INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)', [ctx.tenantId, user.id, input.role]);
        await recordSecurityEvent(tx, ctx, { type: 'MEMBERSHIP_CREATED', userId: user.id, details: { role: input.role, newUser: !user.existingUser } });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new GatewayError('CONFLICT', `${input.email} is already a member of this tenant.`);
      throw error;
    }
    return { id: user.id, email: user.email, role: input.role, existingUser: user.existingUser };
  }

  /** Platform administration: a user (new or existing) who may manage tenants. */
  async createPlatformAdmin(email: string, password: string): Promise<{ id: string; email: string }> {
    assertEmail(email);
    assertPassword(password);
    const passwordHash = await hashSecret(password);
    return this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<{ id: string; email: string }>(
        `INSERT INTO users (email, password_hash, is_platform_admin) VALUES ($1, $2, true)
         ON CONFLICT (lower(email)) DO UPDATE SET is_platform_admin = true RETURNING id, email`,
        [email, passwordHash],
      );
      return rows[0]!;
    });
  }

  async remove(ctx: TenantContext, userId: string): Promise<void> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage', [userId]);
    await this.db.withTenant(ctx, async (tx) => {
      await tx.query('DELETE FROM memberships WHERE user_id = $1', [userId]);
      await recordSecurityEvent(tx, ctx, { type: 'SESSION_REVOKED', userId, details: { reason: 'membership removed' } });
    });
    await this.sessions.endAllFor(userId, ctx.tenantId);
  }

  async profile(userId: string): Promise<{ id: string; email: string }> {
    const user = await this.db.withPlatform((tx) => findUserById(tx, userId));
    if (!user) throw new GatewayError('USER_NOT_FOUND', 'No such user.');
    return { id: user.id, email: user.email };
  }

  /** The user's own password change: the current password is required, and every session ends. */
  async changePassword(userId: string, current: string, next: string): Promise<void> {
    assertPassword(next);
    const user = await this.db.withPlatform((tx) => findUserById(tx, userId));
    if (!user || !(await verifySecret(user.passwordHash, current))) throw new GatewayError('INVALID_CREDENTIALS', 'The current password is wrong.');
    const hash = await hashSecret(next);
    await this.db.withPlatform(async (tx) => {
      await tx.query('UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [userId, hash]);
      await recordPlatformEvent(tx, null, { type: 'SESSION_REVOKED', userId, details: { reason: 'password changed' } });
    });
    await this.sessions.endAllFor(userId);
  }

  /** Platform administration: suspending a user ends their sessions in every tenant. */
  async setSuspended(userId: string, suspended: boolean): Promise<void> {
    const { rowCount } = await this.db.withPlatform((tx) => tx.query('UPDATE users SET status = $2 WHERE id = $1', [userId, suspended ? 'suspended' : 'active']));
    if (rowCount === 0) throw new GatewayError('USER_NOT_FOUND', 'No such user.');
    if (suspended) {
      await this.db.withPlatform((tx) => recordPlatformEvent(tx, null, { type: 'SESSION_REVOKED', userId, details: { reason: 'user suspended' } }));
      await this.sessions.endAllFor(userId);
    }
  }
}
