import { randomBytes } from 'node:crypto';
import { recordPlatformEvent, recordSecurityEvent } from '../core/audit-log.js';
import { GatewayError } from '../core/errors.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import { requireConfirmation } from '../core/policy/confirmation.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import type { Role, TenantContext } from './context.js';
import { actorRole, assertMayGrant, lockDeciders } from './member-roles.js';
import { assertEmail, assertPassword, assertRole, type ChangeOptions, type MemberEntry } from './members.js';
import { hashSecret } from './secrets.js';
import { hashOpaqueToken } from './sessions.js';

export type InvitationEntry = { id: string; email: string; role: Role; status: 'pending' | 'expired'; invitedBy: { kind: string; id: string }; createdAt: Date; expiresAt: Date };

/** What adding someone did: an existing user became a member at once; someone new was invited (the token is shown once). */
export type InviteOutcome =
  | { outcome: 'added'; member: MemberEntry }
  | { outcome: 'invited'; invitation: InvitationEntry; token: string };

/** What the set-password page shows about a token that may still be accepted. */
export type OpenInvitation = { email: string; role: Role; tenantName: string; expiresAt: Date };

type TokenRow = {
  id: string; tenant_id: string; email: string; role: Role; invited_by: { kind: string; id: string }; expires_at: Date;
  accepted_at: Date | null; revoked_at: Date | null; tenant_name: string; tenant_status: string;
};

const ENTRY = `SELECT id, email, role, invited_by AS "invitedBy", created_at AS "createdAt", expires_at AS "expiresAt",
                      CASE WHEN expires_at <= now() THEN 'expired' ELSE 'pending' END AS status
                 FROM invitations`;
const ASK_AGAIN = 'Ask the person who invited you for a new link.';

/** Why a token cannot be accepted, said so that its holder knows what to do; undefined if it can. */
function refusal(row: TokenRow | undefined, now: number): string | undefined {
  if (!row) return `This invitation link is not valid. ${ASK_AGAIN}`;
  if (row.accepted_at) return 'This invitation was already used. Sign in with the email address and the password chosen then.';
  if (row.revoked_at) return `This invitation was withdrawn. ${ASK_AGAIN}`;
  if (row.expires_at.getTime() <= now) return `This invitation expired on ${row.expires_at.toISOString().slice(0, 16).replace('T', ' ')} UTC. ${ASK_AGAIN}`;
  if (row.tenant_status !== 'active') return 'The tenant this invitation is for is suspended.';
  return undefined;
}

/**
 * Invitations: how someone new joins a tenant. Gatehouse sends no e-mail, so
 * the inviting admin receives a one-time link to a set-password page; only the
 * token's hash is stored. Accepting sets the password, creates the user and the
 * membership with the invited role, and burns the token, in one transaction.
 */
export class Invitations {
  /** `ttlHours`: how long a link stays valid (INVITATION_TTL_HOURS). */
  constructor(private readonly db: Database, private readonly policy: AccessPolicy, private readonly ttlHours: number) {}

  /**
   * `POST /v1/members`: an email already known (users are global identities)
   * gains the membership at once; anyone else is invited. A new invitation to
   * the same address replaces the open one.
   */
  async invite(ctx: TenantContext, input: { email: string; role: Role } & ChangeOptions): Promise<InviteOutcome> {
    const grant = await this.policy.requireAccess(ctx, 'tenant.members.manage');
    requireConfirmation(grant, input.confirmed, 'Adding a member');
    assertEmail(input.email);
    assertRole(input.role);
    const existing = await this.db.withPlatform(async (tx) =>
      (await tx.query<{ id: string }>('SELECT id FROM users WHERE lower(email) = lower($1)', [input.email])).rows[0]);
    const actorIds = ctx.principal.kind === 'user' ? [ctx.principal.id] : [];
    if (existing) {
      try {
        return await this.db.withTenant(ctx, async (tx) => {
          assertMayGrant(actorRole(ctx, await lockDeciders(tx, actorIds)), input.role);
          await tx.query('INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)', [ctx.tenantId, existing.id, input.role]);
          await tx.query('UPDATE invitations SET revoked_at = now() WHERE lower(email) = lower($1) AND accepted_at IS NULL AND revoked_at IS NULL', [input.email]);
          await recordSecurityEvent(tx, ctx, { type: 'MEMBERSHIP_CREATED', userId: existing.id, details: { role: input.role, newUser: false } });
          const member = await tx.query<MemberEntry>(
            'SELECT u.id, u.email, m.role, u.status, m.created_at AS since FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.user_id = $1', [existing.id]);
          return { outcome: 'added' as const, member: member.rows[0]! };
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new GatewayError('CONFLICT', `${input.email} is already a member of this tenant.`);
        throw error;
      }
    }
    const token = `gi_${randomBytes(32).toString('base64url')}`;
    return this.db.withTenant(ctx, async (tx) => {
      assertMayGrant(actorRole(ctx, await lockDeciders(tx, actorIds)), input.role);
      const replaced = await tx.query<{ id: string }>(
        'UPDATE invitations SET revoked_at = now() WHERE lower(email) = lower($1) AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id', [input.email]);
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6)) RETURNING id`,
        [ctx.tenantId, input.email, input.role, hashOpaqueToken(token), JSON.stringify(ctx.principal), this.ttlHours],
      );
      const invitation = (await tx.query<InvitationEntry>(`${ENTRY} WHERE id = $1`, [rows[0]!.id])).rows[0]!;
      await recordSecurityEvent(tx, ctx, {
        type: 'INVITATION_CREATED',
        details: { invitationId: invitation.id, email: input.email, role: input.role, expiresAt: invitation.expiresAt, replaced: replaced.rows.map((r) => r.id) },
      });
      return { outcome: 'invited' as const, invitation, token };
    });
  }

  /** Open invitations (neither accepted nor revoked), newest first; an expired one is listed as such until revoked. */
  async list(ctx: TenantContext): Promise<InvitationEntry[]> {
    await this.policy.requireAccess(ctx, 'tenant.members.manage');
    return this.db.withTenant(ctx, async (tx) =>
      (await tx.query<InvitationEntry>(`${ENTRY} WHERE accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC, id DESC`)).rows);
  }

  /** Withdraws an open invitation: its link is refused from now on. */
  async revoke(ctx: TenantContext, invitationId: string, options: ChangeOptions = {}): Promise<void> {
    const grant = await this.policy.requireAccess(ctx, 'tenant.members.manage');
    requireConfirmation(grant, options.confirmed, 'Revoking an invitation');
    const actorIds = ctx.principal.kind === 'user' ? [ctx.principal.id] : [];
    await this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ email: string; role: Role }>(
        'SELECT email, role FROM invitations WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL FOR UPDATE', [invitationId]);
      const invitation = rows[0];
      if (!invitation) throw new GatewayError('INVITATION_NOT_FOUND', `Not found, or no access: ${invitationId}.`, { ids: [invitationId] });
      // An invitation is a membership to be: whoever may not grant its role may not withdraw it either.
      assertMayGrant(actorRole(ctx, await lockDeciders(tx, actorIds)), invitation.role);
      await tx.query('UPDATE invitations SET revoked_at = now() WHERE id = $1', [invitationId]);
      await recordSecurityEvent(tx, ctx, { type: 'INVITATION_REVOKED', details: { invitationId, email: invitation.email, role: invitation.role } });
    });
  }

  /** The set-password page's first look: what the token invites to, or INVITATION_INVALID saying why not. */
  async open(token: string): Promise<OpenInvitation> {
    const row = await this.find(token);
    const refused = refusal(row, Date.now());
    if (refused || !row) throw new GatewayError('INVITATION_INVALID', refused);
    return { email: row.email, role: row.role, tenantName: row.tenant_name, expiresAt: row.expires_at };
  }

  /**
   * The invitee sets their password: the user and the membership are created
   * and the token is burnt, all or nothing. An address that became an account
   * meanwhile is refused (setting its password would take it over); the token
   * stays open until it expires or is revoked, and the admin can add that
   * account directly.
   */
  async accept(token: string, password: string): Promise<{ userId: string; email: string; tenantName: string; role: Role }> {
    assertPassword(password);
    // argon2 before the transaction: the invitation row is not held locked for its 25 ms.
    const passwordHash = await hashSecret(password);
    return this.db.withPlatform(async (tx) => {
      const { rows } = await tx.query<TokenRow>(`${TOKEN_ROW} WHERE i.token_hash = $1 FOR UPDATE OF i`, [hashOpaqueToken(token)]);
      const row = rows[0];
      const refused = refusal(row, Date.now());
      if (refused || !row) throw new GatewayError('INVITATION_INVALID', refused);
      const user = await tx.query<{ id: string }>(
        'INSERT INTO users (email, password_hash) VALUES ($1, $2) ON CONFLICT (lower(email)) DO NOTHING RETURNING id', [row.email, passwordHash]);
      const userId = user.rows[0]?.id;
      if (!userId) {
        throw new GatewayError('INVITATION_INVALID', `An account with the address ${row.email} exists already: sign in with it, and ask the person who invited you to add it.`);
      }
      await tx.query('INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)', [row.tenant_id, userId, row.role]);
      await tx.query('UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1', [row.id, userId]);
      await recordPlatformEvent(tx, row.tenant_id, {
        type: 'INVITATION_ACCEPTED', userId, channel: 'web', details: { invitationId: row.id, email: row.email, role: row.role, invitedBy: row.invited_by },
      });
      return { userId, email: row.email, tenantName: row.tenant_name, role: row.role };
    });
  }

  private async find(token: string): Promise<TokenRow | undefined> {
    const rows = await this.db.platformQuery<TokenRow>(`${TOKEN_ROW} WHERE i.token_hash = $1`, [hashOpaqueToken(token)]);
    return rows[0];
  }
}

/** The token's row, read before any tenant is known (by its hash only), as the owner. */
const TOKEN_ROW = `SELECT i.id, i.tenant_id, i.email, i.role, i.invited_by, i.expires_at, i.accepted_at, i.revoked_at,
                          t.name AS tenant_name, t.status AS tenant_status
                     FROM invitations i JOIN tenants t ON t.id = i.tenant_id`;
