import DataLoader from 'dataloader';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../core/errors.js';
import { scopesForChannel } from '../core/policy/capability-matrix.js';
import type { Database } from '../db/database.js';
import type { TopicFilters } from './app-credentials.js';
import type { TenantContext } from './context.js';
import type { FailureLimits } from './failure-limiter.js';
import { issueContext } from './issue-context.js';
import { verifyAgainstNothing, verifySecret } from './secrets.js';
import { isDataException } from '../db/pg-errors.js';
import { unstorableReason } from './storable-text.js';

export type VerifiedCredential =
  | { kind: 'device'; ctx: TenantContext; deviceName: string }
  | { kind: 'app'; ctx: TenantContext; appName: string; filters: TopicFilters };

type CredentialRow = {
  kind: 'device' | 'app'; username: string; id: string; tenant_id: string; name: string; secret_hash: string; status: string; tenant_status: string;
  certificate_cn?: string | null;
  publish_allow?: string[]; subscribe_allow?: string[]; publish_deny?: string[]; subscribe_deny?: string[];
};

type CacheEntry = { secretHash: string; digest: Buffer; until: number };

export const VERIFICATION_CACHE_TTL_MS = 5 * 60_000;
const MAX_CACHED = 200_000;
/** Generated usernames are `<name ≤ 64>@<slug ≤ 63>` (`app:` for apps); anything much longer names nobody. */
export const MAX_USERNAME_CHARS = 256;

const DEVICE_QUERY = `SELECT 'device' AS kind, d.username, d.id, d.tenant_id, d.name, d.secret_hash, d.status, t.status AS tenant_status
                        FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE d.username = ANY($1)`;
/**
 * A client certificate names a device by its username or by the CN registered
 * for it. CNs hold no "@" (a CHECK of the schema) and usernames always do, so
 * one CN matches one row at most.
 */
const CERTIFICATE_QUERY = `SELECT 'device' AS kind, d.username, d.id, d.tenant_id, d.name, d.secret_hash, d.status, t.status AS tenant_status, d.certificate_cn
                             FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE d.username = ANY($1) OR d.certificate_cn = ANY($1)`;
const APP_QUERY = `SELECT 'app' AS kind, a.username, a.id, a.tenant_id, a.name, a.secret_hash, a.status, t.status AS tenant_status,
                          a.publish_allow, a.subscribe_allow, a.publish_deny, a.subscribe_deny
                     FROM app_credentials a JOIN tenants t ON t.id = a.tenant_id WHERE a.username = ANY($1)`;

/**
 * A username that could be a stored one. Anything else is answered "no such
 * credential" without being batched: one value Postgres refuses (U+0000 is
 * SQLSTATE 22021) fails the whole `ANY($1)`, and with it every CONNECT that
 * shared the batch, other tenants' included.
 */
function couldExist(username: string): boolean {
  return username.length > 0 && username.length <= MAX_USERNAME_CHARS && unstorableReason(username) === undefined;
}

/**
 * Credential rows by username, one query in flight at a time: CONNECTs that
 * arrive while a query runs share the next one, so a reconnect storm reads
 * its rows by the dozen instead of waking Postgres for each (in the profile of
 * a warm storm on the reference machine, writing one query per CONNECT to
 * Postgres's socket took a third of the gateway's time).
 * Nothing is kept between queries: every CONNECT sees its row as it is now.
 */
function rowLoader(db: Database, sql: string): DataLoader<string, CredentialRow | undefined> {
  let previous: Promise<unknown> = Promise.resolve();
  const lookup = async (usernames: readonly string[]) => {
    const rows = await db.platformQuery<CredentialRow>(sql, [usernames]);
    const byUsername = new Map(rows.flatMap((row) => [[row.username, row] as const, ...(row.certificate_cn ? [[row.certificate_cn, row] as const] : [])]));
    return usernames.map((username) => byUsername.get(username));
  };
  /**
   * Should a value couldExist missed still make Postgres refuse the batch,
   * each key is asked alone, so only the bad one goes without a row (a value
   * Postgres cannot compare is no stored username). Other failures, a lost
   * connection above all, fail the batch as they are.
   */
  const lookupEach = async (usernames: readonly string[]) => {
    const answers: (CredentialRow | undefined)[] = [];
    for (const username of usernames) {
      answers.push(await lookup([username]).then(([row]) => row, (error: unknown) => {
        if (isDataException(error)) return undefined;
        throw error;
      }));
    }
    return answers;
  };
  return new DataLoader(
    (usernames) => {
      const query = lookup(usernames).catch((error: unknown) => {
        if (!isDataException(error)) throw error;
        return lookupEach(usernames);
      });
      previous = query.catch(() => undefined);
      return query;
    },
    { cache: false, maxBatchSize: 500, batchScheduleFn: (dispatch) => void previous.then(dispatch) },
  );
}

/**
 * Device and app credentials (MQTT username + secret) → TenantContext.
 *
 * argon2id costs ~25 ms of CPU, so a reconnect storm of thousands of devices
 * would take the node down if every CONNECT paid it. Successful verifications
 * are remembered for a few minutes as an HMAC of the secret under a per-process
 * key, next to the stored hash they were checked against. The row is still read
 * for every CONNECT (batched, see rowLoader), so a revoked or suspended
 * credential is refused at once, and a changed secret (a new hash) never
 * matches a remembered one.
 */
export class CredentialVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheKey = randomBytes(32);
  /** argon2 checks under way, by username, stored hash and secret (checkedOnce). */
  private readonly checking = new Map<string, Promise<boolean>>();
  /** argon2 checks run (against a stored hash or, for an unknown username, against nothing), and verifications answered from the cache. */
  readonly stats = { argon2: 0, cached: 0 };
  private readonly devices: DataLoader<string, CredentialRow | undefined>;
  private readonly apps: DataLoader<string, CredentialRow | undefined>;
  private readonly certificates: DataLoader<string, CredentialRow | undefined>;

  constructor(db: Database, private readonly limiter: FailureLimits, private readonly now: () => number = Date.now) {
    this.devices = rowLoader(db, DEVICE_QUERY);
    this.apps = rowLoader(db, APP_QUERY);
    this.certificates = rowLoader(db, CERTIFICATE_QUERY);
  }

  async verify(username: string, secret: string, ip?: string): Promise<VerifiedCredential> {
    const keys = [`mqtt:${username}`, ...(ip ? [`ip:${ip}`] : [])];
    await this.limiter.assertAllowed(keys);
    // A malformed name is refused like an unknown one, argon2 included, so its answer takes as long.
    const row = couldExist(username) ? await (username.startsWith('app:') ? this.apps : this.devices).load(username) : undefined;
    const digest = createHmac('sha256', this.cacheKey).update(secret).digest();
    // An unknown device username costs what a known device's generated secret does (secrets.ts); an unknown app what an app's,
    // and the same secret presented to it several times at once costs one check, as it does a known one (checkedOnce).
    const ok = row
      ? await this.secretMatches(username, row.secret_hash, secret, digest)
      : await this.checkedOnce(`${username}\0\0${digest.toString('base64')}`, () => verifyAgainstNothing(secret, username.startsWith('app:') ? 'password' : 'generated'));
    if (!row || !ok) {
      await this.limiter.recordFailure(keys);
      throw new GatewayError('INVALID_CREDENTIALS', 'Bad username or password.');
    }
    if (row.status !== 'active' || row.tenant_status !== 'active') {
      throw new GatewayError('ACCOUNT_SUSPENDED', `This ${row.kind} credential is ${row.status !== 'active' ? row.status : 'in a suspended tenant'}.`);
    }
    if (row.kind === 'device') {
      const ctx = issueContext({ tenantId: row.tenant_id, principal: { kind: 'device', id: row.id }, channel: 'iot', scopes: scopesForChannel('iot') });
      return { kind: 'device', ctx, deviceName: row.name };
    }
    const ctx = issueContext({ tenantId: row.tenant_id, principal: { kind: 'app', id: row.id }, channel: 'automation', scopes: scopesForChannel('automation') });
    return {
      kind: 'app', ctx, appName: row.name,
      filters: { publish: row.publish_allow!, subscribe: row.subscribe_allow!, denyPublish: row.publish_deny!, denySubscribe: row.subscribe_deny! },
    };
  }

  /**
   * A device that proved its identity with a client certificate from the
   * configured CA (mTLS): the certificate's CN is its username or the CN
   * registered for it (`certificateCn`); no secret is checked, but its status
   * and its tenant's still are. `username` is the device's, for the caller to
   * compare with a CONNECT username.
   */
  async verifyCertificate(commonName: string): Promise<VerifiedCredential & { kind: 'device'; username: string }> {
    const row = couldExist(commonName) ? await this.certificates.load(commonName) : undefined;
    if (!row) throw new GatewayError('INVALID_CREDENTIALS', 'The client certificate names no device.');
    if (row.status !== 'active' || row.tenant_status !== 'active') throw new GatewayError('ACCOUNT_SUSPENDED', `This device credential is ${row.status}.`);
    const ctx = issueContext({ tenantId: row.tenant_id, principal: { kind: 'device', id: row.id }, channel: 'iot', scopes: scopesForChannel('iot') });
    return { kind: 'device', ctx, deviceName: row.name, username: row.username };
  }

  /** Forgets what was remembered for a credential (on revocation or a new secret, in addition to the hash check). */
  forget(username: string): void {
    this.cache.delete(username);
  }

  private async secretMatches(username: string, secretHash: string, secret: string, digest: Buffer): Promise<boolean> {
    const cached = this.cache.get(username);
    if (cached && cached.until > this.now() && cached.secretHash === secretHash && timingSafeEqual(cached.digest, digest)) {
      this.stats.cached++;
      return true;
    }
    if (!(await this.checkedOnce(`${username}\0${secretHash}\0${digest.toString('base64')}`, () => verifySecret(secretHash, secret)))) return false;
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(username, { secretHash, digest, until: this.now() + VERIFICATION_CACHE_TTL_MS });
    return true;
  }

  /**
   * One argon2 check for the connections that present the same username and
   * secret while it runs: an app credential shared by hundreds of clients
   * reconnecting at once ran it for each (measured: 5.7 ms of CPU per resumed
   * session). Known and unknown usernames alike, so that a burst's timing
   * does not tell them apart.
   */
  private checkedOnce(key: string, check: () => Promise<boolean>): Promise<boolean> {
    let checking = this.checking.get(key);
    if (!checking) {
      this.stats.argon2++;
      checking = check().finally(() => this.checking.delete(key));
      this.checking.set(key, checking);
    }
    return checking;
  }
}
