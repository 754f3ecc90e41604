import { isTenantContext, type TenantContext } from '../auth/context.js';
import { GatewayError } from '../core/errors.js';

declare const scopedByContext: unique symbol;

/**
 * One tenant's id, as src/auth checked it, for code that writes that tenant's
 * rows outside any one request: the telemetry and device-state writers batch
 * many connections' rows and commit them later, so they keep this instead of
 * the whole TenantContext. It is made only from an issued TenantContext
 * (`tenantScope`), and the batch entry points of Database accept nothing else:
 * a bare tenant-id string does not get into the database that way.
 */
export type TenantScope = Readonly<{ tenantId: string }> & { readonly [scopedByContext]: true };

const made = new WeakSet<object>();
/** One scope per context: the publish path asks per message, and a lookup is all it then costs. */
const byContext = new WeakMap<TenantContext, TenantScope>();

export function tenantScope(ctx: TenantContext): TenantScope {
  const known = byContext.get(ctx);
  if (known) return known;
  if (!isTenantContext(ctx)) throw new GatewayError('TENANT_REQUIRED', 'No tenant context: refusing to touch tenant data.');
  const scope = Object.freeze({ tenantId: ctx.tenantId }) as TenantScope;
  made.add(scope);
  byContext.set(ctx, scope);
  return scope;
}

export function isTenantScope(value: unknown): value is TenantScope {
  return typeof value === 'object' && value !== null && made.has(value);
}
