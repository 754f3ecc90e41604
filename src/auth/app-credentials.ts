import { recordSecurityEvent } from '../core/audit-log.js';
import { assertDeviceName } from '../core/devices/device-name.js';
import { GatewayError } from '../core/errors.js';
import type { EventBus } from '../core/event-bus.js';
import type { AccessPolicy } from '../core/policy/access-policy.js';
import { requireConfirmation } from '../core/policy/confirmation.js';
import { isValidTopicFilter } from '../core/topic-filter.js';
import type { Database, Tx } from '../db/database.js';
import { isUniqueViolation } from '../db/pg-errors.js';
import type { TenantContext } from './context.js';
import { generateSecret, hashSecret } from './secrets.js';

export type TopicFilters = { publish: string[]; subscribe: string[]; denyPublish: string[]; denySubscribe: string[] };

export type IssuedAppCredential = { id: string; name: string; username: string; password: string } & TopicFilters;

/** An app credential as listed: never its secret. */
export type AppEntry = { id: string; name: string; username: string; status: string; createdAt: Date } & TopicFilters;

/** Forgets remembered secret checks of a username (CredentialVerifier.forget). */
export type VerificationCache = { forget(username: string): void };

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
  input: { name: string; confirmed?: boolean } & Partial<TopicFilters>,
): Promise<IssuedAppCredential> {
  const grant = await policy.requireAccess(ctx, 'tenant.apps.manage');
  requireConfirmation(grant, input.confirmed, 'Creating an app credential');
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

const APP_ENTRY = `SELECT id, name, username, status, created_at AS "createdAt", publish_allow AS publish, subscribe_allow AS subscribe,
                          publish_deny AS "denyPublish", subscribe_deny AS "denySubscribe"
                     FROM app_credentials`;

/**
 * App credentials administered by the tenant (`/v1/apps`) and the operator's
 * CLI alike. Deleting or rotating one cuts it off at once: the verifier forgets
 * the secret it remembered, and `app.access.revoked` (after the commit) makes
 * the broker drop the app's live connections.
 */
export class AppCredentials {
  constructor(
    private readonly db: Database,
    private readonly policy: AccessPolicy,
    private readonly verifications: VerificationCache,
    private readonly events: EventBus,
  ) {}

  create(ctx: TenantContext, input: { name: string; confirmed?: boolean } & Partial<TopicFilters>): Promise<IssuedAppCredential> {
    return createAppCredential(this.db, this.policy, ctx, input);
  }

  /** The tenant's apps, by name. */
  async list(ctx: TenantContext): Promise<AppEntry[]> {
    await this.policy.requireAccess(ctx, 'tenant.apps.manage');
    return this.db.withTenant(ctx, async (tx) => (await tx.query<AppEntry>(`${APP_ENTRY} ORDER BY name`)).rows);
  }

  /** A new secret, shown once; the old one is refused from the commit on, and live connections drop. */
  async rotate(ctx: TenantContext, appId: string, options: { confirmed?: boolean } = {}): Promise<IssuedAppCredential> {
    const grant = await this.policy.requireAccess(ctx, 'tenant.apps.manage', [appId]);
    requireConfirmation(grant, options.confirmed, 'Rotating an app\'s secret');
    const password = generateSecret('ga');
    const secretHash = await hashSecret(password);
    return this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<AppEntry>(`UPDATE app_credentials SET secret_hash = $2 WHERE id = $1
        RETURNING id, name, username, status, created_at AS "createdAt", publish_allow AS publish, subscribe_allow AS subscribe,
                  publish_deny AS "denyPublish", subscribe_deny AS "denySubscribe"`, [appId, secretHash]);
      const app = this.found(rows[0], appId);
      await recordSecurityEvent(tx, ctx, { type: 'APP_SECRET_ROTATED', details: { appId, name: app.name } });
      this.cutOffAfterCommit(tx, ctx, app);
      return { id: app.id, name: app.name, username: app.username, password, publish: app.publish, subscribe: app.subscribe, denyPublish: app.denyPublish, denySubscribe: app.denySubscribe };
    });
  }

  /** Deletes the credential: refused at the next CONNECT, live connections dropped. */
  async remove(ctx: TenantContext, appId: string, options: { confirmed?: boolean } = {}): Promise<void> {
    const grant = await this.policy.requireAccess(ctx, 'tenant.apps.manage', [appId]);
    requireConfirmation(grant, options.confirmed, 'Deleting an app credential');
    await this.db.withTenant(ctx, async (tx) => {
      const { rows } = await tx.query<{ id: string; name: string; username: string }>('DELETE FROM app_credentials WHERE id = $1 RETURNING id, name, username', [appId]);
      const app = this.found(rows[0], appId);
      await recordSecurityEvent(tx, ctx, { type: 'APP_DELETED', details: { appId, name: app.name } });
      this.cutOffAfterCommit(tx, ctx, app);
    });
  }

  /** Deleted since requireAccess looked: answered as an unknown id. */
  private found<T>(row: T | undefined, appId: string): T {
    if (!row) throw new GatewayError('APP_NOT_FOUND', `Not found, or no access: ${appId}.`, { ids: [appId] });
    return row;
  }

  private cutOffAfterCommit(tx: Tx, ctx: TenantContext, app: { id: string; username: string }): void {
    tx.afterCommit(() => {
      this.verifications.forget(app.username);
      this.events.emit('app.access.revoked', { tenantId: ctx.tenantId, appId: app.id });
    });
  }
}
