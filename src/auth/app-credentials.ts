import { recordSecurityEvent } from '../core/audit-log.js';
import { assertDeviceName } from '../core/devices/device-name.js';
import { GatewayError } from '../core/errors.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import { isValidTopicFilter } from '../core/topic-filter.js';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import type { TenantContext } from './context.js';
import { generateSecret, hashSecret } from './secrets.js';

export type TopicFilters = { publish: string[]; subscribe: string[]; denyPublish: string[]; denySubscribe: string[] };

export type IssuedAppCredential = { id: string; name: string; username: string; password: string } & TopicFilters;

/** App usernames carry a prefix that no device name can have, so the two never collide. */
export function appUsername(name: string, tenantSlug: string): string {
  return `app:${name}@${tenantSlug}`;
}

/**
 * A credential for backend services, dashboards and load tests. By default it
 * may publish and subscribe to its whole tenant; deny filters win (EMQX ACL order).
 */
export async function createAppCredential(
  db: Database,
  policy: AccessPolicy,
  ctx: TenantContext,
  input: { name: string } & Partial<TopicFilters>,
): Promise<IssuedAppCredential> {
  await policy.requireAccess(ctx, 'tenant.apps.manage');
  assertDeviceName(input.name);
  const filters: TopicFilters = {
    publish: input.publish?.length ? input.publish : ['#'],
    subscribe: input.subscribe?.length ? input.subscribe : ['#'],
    denyPublish: input.denyPublish ?? [],
    denySubscribe: input.denySubscribe ?? [],
  };
  const invalid = Object.values(filters).flat().filter((filter) => !isValidTopicFilter(filter));
  if (invalid.length > 0) throw new GatewayError('VALIDATION_FAILED', `Not a valid MQTT topic filter: ${invalid.join(', ')}.`);

  const password = generateSecret('ga');
  const secretHash = await hashSecret(password);
  try {
    return await db.withTenant(ctx, async (tx) => {
      const tenant = await tx.query<{ slug: string }>('SELECT slug FROM tenants');
      const username = appUsername(input.name, tenant.rows[0]!.slug);
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO app_credentials (tenant_id, name, username, secret_hash, publish_allow, subscribe_allow, publish_deny, subscribe_deny)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
        [ctx.tenantId, input.name, username, secretHash, filters.publish, filters.subscribe, filters.denyPublish, filters.denySubscribe],
      );
      const id = rows[0]!.id;
      await recordSecurityEvent(tx, ctx, { type: 'APP_CREATED', details: { name: input.name, ...filters } });
      return { id, name: input.name, username, password, ...filters };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new GatewayError('CONFLICT', `An app named "${input.name}" already exists in this tenant.`);
    throw error;
  }
}
