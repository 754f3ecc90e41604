import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import { recordPlatformEvent } from './audit-log.js';
import { GatewayError } from './errors.js';

export type Tenant = { id: string; slug: string; name: string; status: 'active' | 'suspended' };

export const TENANT_SLUG = /^[a-z0-9][a-z0-9-]{1,62}$/;

/** Platform administration: creating a tenant happens before any tenant context can exist. */
export async function createTenant(db: Database, input: { slug: string; name?: string }): Promise<Tenant> {
  if (!TENANT_SLUG.test(input.slug)) {
    throw new GatewayError('VALIDATION_FAILED', `Tenant slug "${input.slug}" must be 2-63 characters of a-z, 0-9 and "-", starting with a letter or digit.`);
  }
  try {
    return await db.withPlatform(async (tx) => {
      const { rows } = await tx.query<Tenant>(
        'INSERT INTO tenants (slug, name) VALUES ($1, $2) RETURNING id, slug, name, status',
        [input.slug, input.name ?? input.slug],
      );
      const tenant = rows[0]!;
      await recordPlatformEvent(tx, tenant.id, { type: 'TENANT_CREATED', details: { slug: tenant.slug } });
      return tenant;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new GatewayError('CONFLICT', `A tenant with slug "${input.slug}" already exists.`, { slug: input.slug });
    throw error;
  }
}

export async function findTenantBySlug(db: Database, slug: string): Promise<Tenant | undefined> {
  return db.withPlatform(async (tx) => {
    const { rows } = await tx.query<Tenant>('SELECT id, slug, name, status FROM tenants WHERE slug = $1', [slug]);
    return rows[0];
  });
}

export async function listTenants(db: Database): Promise<Tenant[]> {
  return db.withPlatform(async (tx) => (await tx.query<Tenant>('SELECT id, slug, name, status FROM tenants ORDER BY slug')).rows);
}
