import type { Channel, Principal, Role, TenantContext } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Contexts issued here, and only here: not exported, so nothing can add a
 * look-alike to it (an exported set let any module mint a context by adding one).
 */
const issued = new WeakSet<object>();

export function isTenantContext(value: unknown): value is TenantContext {
  return typeof value === 'object' && value !== null && issued.has(value);
}

/**
 * The one constructor of TenantContext. Only modules of src/auth import it
 * (eslint.config.js, checked by test/unit/tenant-context-minting.test.ts; tests
 * mint through test/support/fixtures.ts alone): a context exists only once a
 * credential was checked.
 */
export function issueContext(fields: {
  tenantId: string;
  principal: Principal;
  channel: Channel;
  roles?: readonly Role[];
  scopes: readonly string[];
}): TenantContext {
  if (!UUID.test(fields.tenantId)) throw new TypeError('issueContext: tenantId must be a UUID');
  const ctx = Object.freeze({
    tenantId: fields.tenantId.toLowerCase(),
    principal: Object.freeze({ ...fields.principal }),
    channel: fields.channel,
    roles: Object.freeze([...(fields.roles ?? [])]),
    scopes: Object.freeze([...fields.scopes]),
  }) as TenantContext;
  issued.add(ctx);
  return ctx;
}
