import type { Channel, PrincipalKind, Role, TenantContext } from '../../src/auth/context.js';
import { issueContext } from '../../src/auth/issue-context.js';
import { operatorContext } from '../../src/auth/operator.js';
import { scopesForChannel } from '../../src/core/policy/capability-matrix.js';
import { createTenant, type Tenant } from '../../src/core/tenants.js';
import type { Database } from '../../src/db/database.js';
import { tenantScope, type TenantScope } from '../../src/db/tenant-scope.js';

let counter = 0;

export async function makeTenant(db: Database, prefix = 't'): Promise<Tenant & { operator: TenantContext }> {
  const tenant = await createTenant(db, { slug: `${prefix}-${process.pid}-${++counter}` });
  return { ...tenant, operator: await operatorContext(db, tenant.slug) };
}

/** A context as src/auth would issue it for a credential of this shape (tests only). */
export function contextFor(
  tenantId: string,
  shape: { kind?: PrincipalKind; id?: string; channel?: Channel; roles?: Role[]; scopes?: string[] } = {},
): TenantContext {
  const channel = shape.channel ?? 'web';
  return issueContext({
    tenantId,
    principal: { kind: shape.kind ?? 'user', id: shape.id ?? '00000000-0000-7000-8000-000000000001' },
    channel,
    roles: shape.roles ?? (shape.kind === 'device' || shape.kind === 'app' ? [] : ['owner']),
    scopes: shape.scopes ?? scopesForChannel(channel),
  });
}

/** A tenant scope as a device's connection would hand the batch writers (tests only). */
export function scopeFor(tenantId: string): TenantScope {
  return tenantScope(contextFor(tenantId, { kind: 'device', channel: 'iot' }));
}
