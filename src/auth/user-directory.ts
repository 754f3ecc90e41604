import type { Tx } from '../db/database.js';
import type { Membership } from './access-tokens.js';

export type UserRecord = { id: string; email: string; passwordHash: string; status: 'active' | 'suspended'; isPlatformAdmin: boolean };

/**
 * Platform-level reads of users and their memberships: they happen while a
 * credential is being checked, before any TenantContext exists (run inside
 * Database.withPlatform by src/auth only).
 */
export async function findUserByEmail(tx: Tx, email: string): Promise<UserRecord | undefined> {
  const { rows } = await tx.query<UserRecord>(
    `SELECT id, email, password_hash AS "passwordHash", status, is_platform_admin AS "isPlatformAdmin"
       FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  return rows[0];
}

export async function findUserById(tx: Tx, id: string): Promise<UserRecord | undefined> {
  const { rows } = await tx.query<UserRecord>(
    `SELECT id, email, password_hash AS "passwordHash", status, is_platform_admin AS "isPlatformAdmin" FROM users WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** The user's memberships in active tenants, oldest first (the first is the default tenant). */
export async function membershipsOf(tx: Tx, userId: string): Promise<Membership[]> {
  const { rows } = await tx.query<Membership>(
    `SELECT t.id, t.slug, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id
      WHERE m.user_id = $1 AND t.status = 'active' ORDER BY m.created_at, t.slug`,
    [userId],
  );
  return rows;
}
