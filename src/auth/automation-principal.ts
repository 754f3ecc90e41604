import { scopesForChannel } from '../core/policy/capability-matrix.js';
import type { Database } from '../db/database.js';
import type { Principal, TenantContext } from './context.js';
import { issueContext } from './issue-context.js';

/** The tenant's automation principal (seed 003 §3.6, the system actor): every run acts, and is audited, as it. */
export const AUTOMATION_PRINCIPAL: Principal = Object.freeze({ kind: 'service', id: 'automation' });

/**
 * The context automations run under: channel `automation`, no role, the
 * automation channel's scopes (the matrix: S cells, `human_approval` on
 * sensitive commands; never command.approve, members, apps or purge). Minted
 * only for an active tenant: a suspended tenant's automations do not run.
 */
export async function automationContext(db: Database, tenantId: string): Promise<TenantContext | undefined> {
  const [tenant] = await db.platformQuery<{ status: string }>('SELECT status FROM tenants WHERE id = $1', [tenantId]);
  if (tenant?.status !== 'active') return undefined;
  return issueContext({ tenantId, principal: AUTOMATION_PRINCIPAL, channel: 'automation', scopes: scopesForChannel('automation') });
}

/** The same context without the tenant's status check: for auditing, as the automation principal, inside a cause's transaction. */
export function automationAuditContext(tenantId: string): TenantContext {
  return issueContext({ tenantId, principal: AUTOMATION_PRINCIPAL, channel: 'automation', scopes: scopesForChannel('automation') });
}
