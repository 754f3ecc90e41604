/**
 * TenantContext: who is acting, for which tenant, through which channel.
 * Every request and connection carries one; it is built once, by src/auth,
 * and passed down as the first argument. Nothing below it reads tenant
 * identity from anywhere else.
 */
export const CHANNELS = ['web', 'mobile', 'alexa', 'google', 'iot', 'automation'] as const;
export type Channel = (typeof CHANNELS)[number];

export const ROLES = ['viewer', 'member', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export type PrincipalKind = 'user' | 'device' | 'app' | 'voice' | 'service';
export type Principal = Readonly<{ kind: PrincipalKind; id: string }>;

declare const issuedByAuth: unique symbol;

export type TenantContext = Readonly<{
  tenantId: string;
  principal: Principal;
  channel: Channel;
  roles: readonly Role[];
  scopes: readonly string[];
}> & { readonly [issuedByAuth]: true };

/**
 * Whether a value is a context src/auth issued (a look-alike object built
 * elsewhere is not). The registry of issued contexts is private to the minting
 * module, which only src/auth may import (eslint.config.js); this module, which
 * every layer imports for the types, exposes only the check.
 */
export { isTenantContext } from './issue-context.js';

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** The strongest role a context holds, or undefined for principals without roles (devices, apps). */
export function highestRole(ctx: TenantContext): Role | undefined {
  let best: Role | undefined;
  for (const role of ctx.roles) if (best === undefined || roleRank(role) > roleRank(best)) best = role;
  return best;
}
