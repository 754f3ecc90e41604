import pg from 'pg';
import { isTenantContext, type TenantContext } from '../auth/context.js';
import { GatewayError } from '../core/errors.js';
import { isConnectionFailure } from './pg-errors.js';
import { isTenantScope, type TenantScope } from './tenant-scope.js';

/**
 * What a repository may do inside a transaction: run queries, ask for
 * something to happen once the transaction has committed (an event that
 * announces what it wrote: a listener that reads the row must find it, and
 * nothing is announced for a transaction that rolled back), and let the
 * writes joined to one of its own run in the same transaction (`joined`).
 */
export type Tx = Queryable & { afterCommit(callback: () => void): void; joined<E>(point: JoinPoint<E>, event: E): Promise<void> };

/**
 * A kind of write that others may join in its transaction, named by the
 * module that makes it (the audit log's recorded events, joined by the
 * notification outbox), without that module knowing who joins. Joiners are
 * registered per Database (`join`), so each gateway has its own.
 */
export type JoinPoint<E> = { readonly name: string; readonly carries?: E };
export type Joiner<E> = (tx: Tx, event: E) => Promise<void>;

/** Anything that runs queries: a transaction, a client, a pool. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** The role tenant transactions run as; row-level security applies to it (migrations/…_core-schema.sql). */
const TENANT_ROLE = 'gatehouse_app';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The pool, and the only two ways into data:
 * - `withTenant(ctx, fn)`: a transaction as the restricted role with `app.tenant_id`
 *   set, so row-level security hides every other tenant's rows even from SQL
 *   that forgets its `WHERE tenant_id`.
 * - `withPlatform(fn)` (and `platformQuery` for a single read): as the owner,
 *   bypassing row-level security. Only src/auth (resolving a credential before
 *   any tenant is known) and platform administration (tenants) use them.
 */
export class Database {
  private readonly joiners = new Map<JoinPoint<unknown>, Joiner<never>[]>();

  constructor(readonly pool: pg.Pool) {}

  /** Runs `joiner` inside every transaction that makes a write of this kind, after the write and before the commit. */
  join<E>(point: JoinPoint<E>, joiner: Joiner<E>): void {
    this.joiners.set(point, [...(this.joiners.get(point) ?? []), joiner]);
  }

  async withTenant<T>(ctx: TenantContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (!isTenantContext(ctx)) throw new GatewayError('TENANT_REQUIRED', 'No tenant context: refusing to touch tenant data.');
    // tenantId was checked to be a UUID when src/auth issued the context, so it is safe to inline;
    // one round trip instead of three.
    return this.transaction(`BEGIN; SET LOCAL ROLE ${TENANT_ROLE}; SELECT set_config('app.tenant_id', '${ctx.tenantId}', true)`, fn);
  }

  async withPlatform<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN', fn);
  }

  /**
   * One transaction that writes for several tenants in turn (a telemetry batch
   * from many devices): row-level security applies to each group, with
   * app.tenant_id switched between them. Each group names its tenant by a
   * TenantScope, made from an issued context (src/db/tenant-scope.ts).
   */
  async withEachTenant<T>(groups: Iterable<[scope: TenantScope, T]>, fn: (tx: Tx, item: T, scope: TenantScope) => Promise<void>): Promise<void> {
    await this.transaction(`BEGIN; SET LOCAL ROLE ${TENANT_ROLE}`, async (tx) => {
      for (const [scope, item] of groups) {
        const tenantId = checkedTenant(scope);
        await tx.query(`SELECT set_config('app.tenant_id', '${tenantId}', true)`);
        await fn(tx, item, scope);
      }
    });
  }

  /**
   * One call of a procedure that enters the tenant itself (the restricted role
   * and app.tenant_id from its first argument, as withTenant sets them; see
   * migrations/…_telemetry-write-procedure.sql), prepared once per connection
   * and sent alone, so that it is its own transaction: one round trip and
   * nothing parsed again. For the telemetry hot path, where acknowledged
   * batches wait on the commit.
   */
  async callAsTenant(scope: TenantScope, procedure: 'gatehouse_write_telemetry', args: unknown[]): Promise<void> {
    const tenantId = checkedTenant(scope);
    const text = `CALL ${procedure}(${[tenantId, ...args].map((_, i) => `$${i + 1}`).join(', ')})`;
    try {
      await this.pool.query({ name: procedure, text, values: [tenantId, ...args] });
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  /** One read outside any tenant, without a transaction: one round trip (credential lookups on CONNECT). */
  async platformQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (error) {
      throw unavailableOr(error);
    }
  }

  /**
   * `SELECT 1`, answered or failed within `timeoutMs` whatever the server does
   * (a stalled server accepts connections and never answers): a load balancer
   * asking /readyz must get a 503, not a hang.
   */
  async ping(timeoutMs = 1_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GatewayError('DATABASE_UNAVAILABLE', `PostgreSQL did not answer within ${timeoutMs} ms.`)), timeoutMs);
    });
    // The query's own timeout frees its connection; the race bounds the wait for one from the pool too.
    const query = this.pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as pg.QueryConfig).then(() => undefined, (error: unknown) => {
      throw unavailableOr(error);
    });
    try {
      await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
      query.catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(begin: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: Error | undefined;
    const committed: (() => void)[] = [];
    try {
      await client.query(begin);
      const tx: Tx = {
        query: client.query.bind(client) as Tx['query'],
        afterCommit: (callback) => void committed.push(callback),
        joined: async <E>(point: JoinPoint<E>, event: E) => {
          for (const joiner of (this.joiners.get(point) ?? []) as Joiner<E>[]) await joiner(tx, event);
        },
      };
      const result = await fn(tx);
      await client.query('COMMIT');
      committed.forEach((callback) => callback());
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw unavailableOr(error);
    } finally {
      client.release(broken);
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw unavailableOr(error);
    }
  }
}

/** The tenant id of a scope made from an issued context; it is inlined into SQL, so it is checked to be a UUID as well. */
function checkedTenant(scope: TenantScope): string {
  if (!isTenantScope(scope) || !UUID.test(scope.tenantId)) throw new GatewayError('TENANT_REQUIRED', 'No tenant scope: refusing to touch tenant data.');
  return scope.tenantId;
}

/** A lost or unreachable server as the core's DATABASE_UNAVAILABLE (CONNACK 3, HTTP 503); any other error as it was. */
function unavailableOr(error: unknown): unknown {
  if (!isConnectionFailure(error)) return error;
  // The cause stays attached for the log (pino prints its message after ours), not for the client.
  return Object.assign(new GatewayError('DATABASE_UNAVAILABLE', 'PostgreSQL is unavailable; retry later.'), { cause: error });
}

export function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, keepAlive: true });
  // A client's socket error (the server killed or restarted) is emitted on the client itself. node-postgres
  // listens only while the client is idle in the pool; a checked-out client with no listener crashed the
  // process with an unhandled 'error'. Its query in flight fails on its own, and the release destroys it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  pool.on('error', () => undefined);
  return pool;
}
