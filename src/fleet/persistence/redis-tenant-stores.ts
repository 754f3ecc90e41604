import type { Redis } from 'ioredis';
import type { InstanceStore, TenantStores } from '../../broker/tenant-store.js';
import { tenantKeyPrefix } from './keys.js';
import { prefixedConnection } from './prefixed-connection.js';
import { RedisTenantPersistence } from './redis-tenant-persistence.js';

/**
 * Tenants' MQTT state in Redis, for tenant-brokers.ts: each instance gets a
 * new RedisTenantPersistence over the tenant's prefixed view of the node's
 * one shared connection. Everything a later instance (on this node or
 * another) must find is in Redis, so this node keeps nothing between
 * instances: an idle instance may always be released, and no tenant counts
 * as holding state here.
 */
export class RedisTenantStores implements TenantStores {
  readonly withState = 0;

  constructor(private readonly shared: Redis) {}

  forInstance(tenantId: string): { store: InstanceStore; unused(): void } {
    return { store: new RedisTenantPersistence(prefixedConnection(this.shared, tenantKeyPrefix(tenantId))), unused: () => undefined };
  }

  /** Only the released instance's retained `$SYS/` statistics go (the other nodes' instances publish their own again within 10 s). */
  async released(_tenantId: string, store: InstanceStore): Promise<void> {
    await (store as RedisTenantPersistence).endInstance();
  }

  clear(): void {}
}
