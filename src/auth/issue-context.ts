import { issuedContexts, type Channel, type Principal, type Role, type TenantContext } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The one constructor of TenantContext. Only modules of src/auth import it
 * (enforced by the linter): a context exists only once a credential was checked.
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
  issuedContexts.add(ctx);
  return ctx;
}
