import { recordPlatformEvent, recordSecurityEvent } from '../core/audit-log.js';
import { GatewayError } from '../core/errors.js';
import type { EventBus } from '../core/event-bus.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import { requireConfirmation } from '../core/policy/confirmation.js';
import type { Database, Tx } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import { highestRole, ROLES, type Role, type TenantContext } from './context.js';
import { actorRole, assertMayChange, assertMayGrant, lockDeciders, ownerCount } from './member-roles.js';
import { hashSecret, verifySecret } from './secrets.js';
import type { Sessions } from './sessions.js';
import { findUserById } from './user-directory.js';

export type Member = { id: string; email: string; role: Role; existingUser: boolean };

/** A membership as the API lists it: `status` is the user's (active or suspended), `since` when they joined the tenant. */
export type MemberEntry = { id: string; email: string; role: Role; status: 'active' | 'suspended'; since: Date };

/** What an administrative change carries besides its subject: `confirmed` answers the mobile channel's `confirm` obligation. */
export type ChangeOptions = { confirmed?: boolean };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 10;

export function assertEmail(email: string): void {
  if (!EMAIL.test(email)) throw new GatewayError('VALIDATION_FAILED', `"${email}" is not an email address.`);
}

export function assertRole(role: string): asserts role is Role {
  if (!ROLES.includes(role as Role)) throw new GatewayError('VALIDATION_FAILED', `Role must be one of ${ROLES.join(', ')}.`);
}

/** The rule for every password a person sets (at creation, on a change, through an invitation). */
export function assertPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new GatewayError('VALIDATION_FAILED', `The password must have at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
}

const MEMBER_SELECT = `SELECT u.id, u.email, m.role, u.status, m.created_at AS since FROM memberships m JOIN users u ON u.id = m.user_id`;

/** The actor's own membership row, locked with the others when the actor is a person. */
function actorIds(ctx: TenantContext): string[] {
  return ctx.principal.kind === 'user' ? [ctx.principal.id] : [];
}

/**
 * People and their memberships. Every change that takes rights away also ends
 * the affected sessions, so it bites within seconds, not at token expiry.
 */
export class Members {
  constructor(
    private readonly db: Database,
    private readonly policy: AccessPolicy,
    private readonly sessions: Sessions,
    private readonly events?: EventBus,
  ) {}

  /** The tenant's members, oldest first. */
  async list(ctx: TenantContext): Promise<MemberEntry[]> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage');
    return this.db.withTenant(ctx, async (tx) => (await tx.query<MemberEntry>(`${MEMBER_SELECT} ORDER BY m.created_at, u.id`)).rows);
  }

  /**
   * Adds a person to the caller's tenant with a role. A user is a global
   * identity: an email already known from another tenant gains a membership
   * and keeps its own password.
   */
  async add(ctx: TenantContext, input: { email: string; password: string; role: Role }): Promise<Member> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage');
    assertEmail(input.email);
    assertRole(input.role);
    assertMayGrant(highestRole(ctx), input.role);
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

  /**
   * Changes a member's role. The new role bites on the member's next request
   * (the session cache is told at once on this node, and holds it at most
   * AUTH_SESSION_CACHE_MS on others) and their MQTT connections are dropped
   * (member.access.changed).
   */
  async changeRole(ctx: TenantContext, userId: string, role: Role, options: ChangeOptions = {}): Promise<MemberEntry> {
    const grant = await this.policy.requireAccess(ctx, 'tenant.members.manage', [userId]);
    requireConfirmation(grant, options.confirmed, 'Changing a member\'s role');
    assertRole(role);
    return this.db.withTenant(ctx, async (tx) => {
      const current = await this.decide(tx, ctx, userId, role);
      if (current !== role) {
        await tx.query('UPDATE memberships SET role = $2 WHERE user_id = $1', [userId, role]);
        await recordSecurityEvent(tx, ctx, { type: 'MEMBER_ROLE_CHANGED', userId, details: { from: current, to: role } });
        tx.afterCommit(() => this.events?.emit('member.access.changed', { tenantId: ctx.tenantId, userId, role }));
      }
      return (await tx.query<MemberEntry>(`${MEMBER_SELECT} WHERE m.user_id = $1`, [userId])).rows[0]!;
    });
  }

  /** Ends a membership: not the last owner's, nor one above the caller's role. Their sessions there end, their MQTT connections drop. */
  async remove(ctx: TenantContext, userId: string, options: ChangeOptions = {}): Promise<void> {
    const grant = await this.policy.requireAccess(ctx, 'tenant.members.manage', [userId]);
    requireConfirmation(grant, options.confirmed, 'Removing a member');
    await this.db.withTenant(ctx, async (tx) => {
      const role = await this.decide(tx, ctx, userId, null);
      await tx.query('DELETE FROM memberships WHERE user_id = $1', [userId]);
      await recordSecurityEvent(tx, ctx, { type: 'MEMBERSHIP_REMOVED', userId, details: { role } });
      await recordSecurityEvent(tx, ctx, { type: 'SESSION_REVOKED', userId, details: { reason: 'membership removed' } });
      tx.afterCommit(() => this.events?.emit('member.access.changed', { tenantId: ctx.tenantId, userId, role: null }));
    });
    await this.sessions.endAllFor(userId, ctx.tenantId);
  }

  /** Locks the deciding rows and applies the role rules; answers the target's current role. */
  private async decide(tx: Tx, ctx: TenantContext, userId: string, next: Role | null): Promise<Role> {
    const locked = await lockDeciders(tx, [userId, ...actorIds(ctx)]);
    const current = locked.get(userId);
    // Removed since requireAccess looked: as unknown as another tenant's id.
    if (current === undefined) throw new GatewayError('USER_NOT_FOUND', `Not found, or no access: ${userId}.`, { ids: [userId] });
    assertMayChange(actorRole(ctx, locked), { userId, role: current }, next, ownerCount(locked));
    return current;
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
