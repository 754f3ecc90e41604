import { highestRole, isTenantContext, roleRank, type TenantContext } from '../../auth/context.js';
import type { Database, Tx } from '../../db/database.js';
import { GatewayError } from '../errors.js';
import { CAPABILITY_MATRIX, cellFor, type Level, type Obligation, type Permission, type PermissionSpec, type ResourceKind } from './capability-matrix.js';

export type AccessGrant = Readonly<{
  level: Exclude<Level, 'N'>;
  /** What the caller must still satisfy before acting (PIN, confirmation…); the service enforces these. */
  obligations: readonly Obligation[];
  /** For device permissions: the device ids behind the names asked for, in the caller's tenant. */
  resolved: ReadonlyMap<string, string>;
}>;

const SYSTEM_PRINCIPALS = new Set(['app', 'service']);
const HUMAN_PRINCIPALS = new Set(['user', 'voice', 'service']);

function deny(ctx: TenantContext, permission: Permission, why: string): never {
  throw new GatewayError('POLICY_DENIED', `${permission} is not allowed here: ${why}.`, { permission, channel: ctx.channel });
}

/** Batch lookups, one query per call, inside the caller's tenant: other tenants' ids simply are not found. */
const RESOURCE_LOOKUPS: Record<Exclude<ResourceKind, 'none'>, { notFound: 'DEVICE_NOT_FOUND' | 'USER_NOT_FOUND' | 'APP_NOT_FOUND'; lookup: (tx: Tx, keys: string[]) => Promise<Map<string, string>> }> = {
  device: {
    notFound: 'DEVICE_NOT_FOUND',
    async lookup(tx, names) {
      const { rows } = await tx.query<{ name: string; id: string }>('SELECT name, id FROM devices WHERE name = ANY($1::text[])', [names]);
      return new Map(rows.map((row) => [row.name, row.id]));
    },
  },
  user: {
    notFound: 'USER_NOT_FOUND',
    async lookup(tx, ids) {
      const uuids = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
      const { rows } = await tx.query<{ user_id: string }>('SELECT user_id FROM memberships WHERE user_id = ANY($1::uuid[])', [uuids]);
      return new Map(rows.map((row) => [row.user_id, row.user_id]));
    },
  },
  app: {
    notFound: 'APP_NOT_FOUND',
    async lookup(tx, ids) {
      const uuids = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
      const { rows } = await tx.query<{ id: string }>('SELECT id FROM app_credentials WHERE id = ANY($1::uuid[])', [uuids]);
      return new Map(rows.map((row) => [row.id, row.id]));
    },
  },
};

/**
 * The one default-deny policy function (immich's requireAccess). Adapters ask
 * it; they hold no policy of their own. Denials never say whether another
 * tenant's resource exists: a missing id and a forbidden id look the same.
 */
export class AccessPolicy {
  constructor(private readonly db: Database) {}

  async requireAccess(ctx: TenantContext, permission: Permission, ids: readonly string[] = []): Promise<AccessGrant> {
    const grant = this.check(ctx, permission);
    const spec = CAPABILITY_MATRIX[permission] as PermissionSpec;
    if (ids.length === 0 || spec.resource === 'none') return { ...grant, resolved: new Map() };

    const { notFound, lookup } = RESOURCE_LOOKUPS[spec.resource];
    const unique = [...new Set(ids)];
    const resolved = await this.db.withTenant(ctx, (tx) => lookup(tx, unique));
    const selfOnly = ctx.principal.kind === 'device';
    const missing = unique.filter((id) => !resolved.has(id) || (selfOnly && resolved.get(id) !== ctx.principal.id));
    if (missing.length > 0) throw new GatewayError(notFound, `Not found, or no access: ${missing.join(', ')}.`, { ids: missing });
    return { ...grant, resolved };
  }

  /** The synchronous part: channel, principal, role and scope. Usable on hot paths that already know the resource. */
  check(ctx: TenantContext, permission: Permission): Omit<AccessGrant, 'resolved'> {
    if (!isTenantContext(ctx)) throw new GatewayError('TENANT_REQUIRED', 'No tenant context: access denied.');
    const spec = CAPABILITY_MATRIX[permission] as PermissionSpec | undefined;
    if (!spec) throw new GatewayError('POLICY_DENIED', `Unknown permission ${String(permission)}.`);
    const cell = cellFor(permission, ctx.channel);
    if (cell.level === 'N') deny(ctx, permission, `the ${ctx.channel} channel may never do this`);
    if (!ctx.scopes.includes(permission)) deny(ctx, permission, 'the credential was not granted this scope');

    const kind = ctx.principal.kind;
    if (kind === 'device') {
      if (ctx.channel !== 'iot') deny(ctx, permission, 'devices act only on the iot channel');
    } else if (ctx.channel === 'automation') {
      if (!SYSTEM_PRINCIPALS.has(kind)) deny(ctx, permission, 'only the system acts on the automation channel');
    } else if (HUMAN_PRINCIPALS.has(kind)) {
      const needed = cell.minRole ?? spec.minRole;
      const role = highestRole(ctx);
      if (role === undefined || roleRank(role) < roleRank(needed)) deny(ctx, permission, `it needs the ${needed} role`);
    } else {
      deny(ctx, permission, `a ${kind} credential may not act on the ${ctx.channel} channel`);
    }
    return { level: cell.level, obligations: cell.obligations ?? [] };
  }
}
