import { scopesForChannel } from '../core/policy/capability-matrix.js';
import { GatewayError } from '../core/errors.js';
import { findTenantBySlug } from '../core/tenants.js';
import type { Database } from '../db/database.js';
import type { TenantContext } from './context.js';
import { issueContext } from './issue-context.js';

/**
 * The context of the platform operator at the `gatehouse` command line: whoever
 * can run the command on the server owns every tenant on it. It acts as the
 * tenant's owner from the operator console (channel web), so every action still
 * passes requireAccess and lands in the audit log under principal `service:operator`.
 */
export async function operatorContext(db: Database, tenantSlug: string): Promise<TenantContext> {
  const tenant = await findTenantBySlug(db, tenantSlug);
  if (!tenant) throw new GatewayError('TENANT_NOT_FOUND', `No tenant with slug "${tenantSlug}".`, { slug: tenantSlug });
  return issueContext({
    tenantId: tenant.id,
    principal: { kind: 'service', id: 'operator' },
    channel: 'web',
    roles: ['owner'],
    scopes: scopesForChannel('web'),
  });
}
