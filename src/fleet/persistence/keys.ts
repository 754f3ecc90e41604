/**
 * Every key of a tenant starts with `gh:{<tenantId>}:`: the braces are a Redis
 * Cluster hash tag, so all of a tenant's keys live in one slot and the
 * persistence's multi-key commands (MSET, DEL a b) stay legal on a cluster.
 */
export function tenantKeyPrefix(tenantId: string): string {
  if (/[{}]/.test(tenantId)) throw new Error(`a tenant id with braces would break its hash tag: ${tenantId}`);
  return `gh:{${tenantId}}:`;
}

/**
 * The takeover lock of one client id, under the tenant's prefix (the prefix is
 * added by the tenant's connection, prefixed-connection.ts). Encoded as
 * aedes-persistence-redis encodes client ids in its own keys.
 */
export function lockKey(clientId: string): string {
  return `lock:${encodeURIComponent(clientId)}`;
}
