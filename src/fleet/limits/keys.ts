/**
 * Every limit's Redis key sits under its tenant's prefix, the tenant id in a
 * hash tag, so a tenant's counters live in one Redis Cluster slot beside its
 * channel and sessions (src/fleet/redis-fleet.ts tenantChannel).
 */
export function limitKey(tenantId: string, kind: 'conns' | 'connect' | 'rate', ...rest: string[]): string {
  return [`gh:{${tenantId}}`, kind, ...rest].join(':');
}
