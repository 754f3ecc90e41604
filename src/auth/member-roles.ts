import { GatewayError } from '../core/errors.js';
import type { Tx } from '../db/database.js';
import { highestRole, roleRank, type Role, type TenantContext } from './context.js';

/** A membership row as the role rules see it. */
export type MemberRole = { userId: string; role: Role };

/**
 * The memberships a role change or a removal decides on, locked: every owner
 * of the tenant, the actor and the target. Locking the owner rows is what keeps
 * two owners demoting (or removing) each other at once from leaving none: the
 * second waits for the first, then reads the rows as the first left them
 * (READ COMMITTED re-checks a locked row's WHERE against its new version), so
 * it counts one owner left, and finds that its own actor is no longer one.
 * Rows are locked in user id order, so that two such changes never deadlock.
 */
export async function lockDeciders(tx: Tx, userIds: readonly string[]): Promise<Map<string, Role>> {
  const { rows } = await tx.query<{ user_id: string; role: Role }>(
    `SELECT user_id, role FROM memberships WHERE role = 'owner' OR user_id = ANY($1::uuid[]) ORDER BY user_id FOR UPDATE`,
    [userIds],
  );
  return new Map(rows.map((row) => [row.user_id, row.role]));
}

/**
 * The actor's role as it is now: a person's is read from the locked rows (their
 * context's role may be a cached second old, and may have just been taken
 * away); the operator's console acts as the owner its context says.
 */
export function actorRole(ctx: TenantContext, locked: ReadonlyMap<string, Role>): Role | undefined {
  return ctx.principal.kind === 'user' ? locked.get(ctx.principal.id) : highestRole(ctx);
}

/** No one grants a role above their own (an admin cannot make an owner). */
export function assertMayGrant(actor: Role | undefined, granted: Role): void {
  if (actor === undefined) throw new GatewayError('POLICY_DENIED', 'You are no longer a member of this tenant.');
  if (roleRank(granted) > roleRank(actor)) {
    throw new GatewayError('ROLE_ABOVE_OWN', `You are ${actor}: you cannot grant the ${granted} role, which is above your own.`, { role: granted });
  }
}

/**
 * A role change or removal of `target`: no one changes a member whose role is
 * above their own, and the last owner stays (`next`: the new role, or null for
 * a removal).
 */
export function assertMayChange(actor: Role | undefined, target: MemberRole, next: Role | null, owners: number): void {
  if (actor === undefined) throw new GatewayError('POLICY_DENIED', 'You are no longer a member of this tenant.');
  if (roleRank(target.role) > roleRank(actor)) {
    throw new GatewayError('ROLE_ABOVE_OWN', `You are ${actor}: you cannot change a member who is ${target.role}.`, { userId: target.userId });
  }
  if (next !== null) assertMayGrant(actor, next);
  if (target.role === 'owner' && next !== 'owner' && owners <= 1) {
    throw new GatewayError('LAST_OWNER', next === null
      ? 'This is the tenant\'s last owner: make another member owner before removing them.'
      : 'This is the tenant\'s last owner: make another member owner before demoting them.', { userId: target.userId });
  }
}

/** How many owners the locked rows hold. */
export function ownerCount(locked: ReadonlyMap<string, Role>): number {
  return [...locked.values()].filter((role) => role === 'owner').length;
}
