import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Database, Tx } from '../db/database.js';

export const TOKEN_ALGORITHM = 'ES256';

type StoredKey = { kid: string; privateJwk: JWK; publicJwk: JWK; createdAt: Date; retiredAt: Date | null };
type LoadedKey = StoredKey & { privateKey: CryptoKey; publicKey: CryptoKey };

/** How long a retired key keeps verifying: the longest lifetime of anything it signed, plus clock skew. */
const RETIRED_KEY_GRACE_MS = 20 * 60 * 1000;
/** An unknown kid makes us look in the database again (a rotation by another node), at most this often. */
const RELOAD_INTERVAL_MS = 1000;
/** Signing and publishing look for a rotation done elsewhere (another node, the CLI) at least this often. */
const REFRESH_INTERVAL_MS = 5000;

/**
 * ES256 signing keys, stored in Postgres so every node of a cluster signs and
 * verifies with the same set. The newest unretired key signs; retired keys
 * keep verifying (and stay in the JWKS) until their tokens have expired.
 */
export class SigningKeys {
  private keys = new Map<string, LoadedKey>();
  private current: LoadedKey | undefined;
  private lastLoad = 0;
  private loading: Promise<void> | undefined;

  constructor(private readonly db: Database) {}

  /** Loads the keys, creating the first one on a fresh database. */
  async init(): Promise<void> {
    await this.load();
    if (!this.current) {
      await this.db.withPlatform(async (tx) => {
        // Two nodes starting on a fresh database must not both create a "first" key.
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext('gatehouse.signing_keys'))`);
        const { rows } = await tx.query('SELECT 1 FROM signing_keys WHERE retired_at IS NULL LIMIT 1');
        if (rows.length === 0) await insertNewKey(tx);
      });
      await this.load();
    }
  }

  /** Creates a new signing key and retires the others; returns the new kid. */
  async rotate(): Promise<string> {
    const kid = await this.db.withPlatform(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('gatehouse.signing_keys'))`);
      await tx.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL');
      return insertNewKey(tx);
    });
    await this.load();
    return kid;
  }

  signingKey(): { kid: string; key: CryptoKey } {
    if (!this.current) throw new Error('SigningKeys.init() was not awaited');
    this.refreshIfStale();
    return { kid: this.current.kid, key: this.current.privateKey };
  }

  /** The public key for a kid, or undefined if no live key has that kid. */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    let key = this.live(kid);
    if (!key && Date.now() - this.lastLoad > RELOAD_INTERVAL_MS) {
      await this.load();
      key = this.live(kid);
    }
    return key?.publicKey;
  }

  /** The JWKS document: every key that may still verify a token. */
  jwks(): { keys: JWK[] } {
    this.refreshIfStale();
    return {
      keys: [...this.keys.values()]
        .filter((key) => this.live(key.kid))
        .map((key) => ({ ...key.publicJwk, kid: key.kid, alg: TOKEN_ALGORITHM, use: 'sig' })),
    };
  }

  /** In the background: this caller uses what is loaded now, which stays valid through the grace period. */
  private refreshIfStale(): void {
    if (Date.now() - this.lastLoad > REFRESH_INTERVAL_MS) this.load().catch(() => undefined);
  }

  private live(kid: string): LoadedKey | undefined {
    const key = this.keys.get(kid);
    if (!key) return undefined;
    if (key.retiredAt && Date.now() - key.retiredAt.getTime() > RETIRED_KEY_GRACE_MS) return undefined;
    return key;
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const rows = await this.db.withPlatform(async (tx) =>
          (await tx.query<StoredKey>(
            `SELECT kid, private_jwk AS "privateJwk", public_jwk AS "publicJwk", created_at AS "createdAt", retired_at AS "retiredAt"
               FROM signing_keys WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
              ORDER BY created_at`,
            [RETIRED_KEY_GRACE_MS / 1000],
          )).rows,
        );
        const keys = new Map<string, LoadedKey>();
        for (const row of rows) {
          const loaded = this.keys.get(row.kid) ?? {
            ...row,
            privateKey: (await importJWK(row.privateJwk, TOKEN_ALGORITHM)) as CryptoKey,
            publicKey: (await importJWK(row.publicJwk, TOKEN_ALGORITHM)) as CryptoKey,
          };
          keys.set(row.kid, { ...loaded, retiredAt: row.retiredAt });
        }
        this.keys = keys;
        this.current = [...keys.values()].filter((key) => !key.retiredAt).at(-1);
        this.lastLoad = Date.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}

async function insertNewKey(tx: Tx): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALGORITHM, { extractable: true });
  const kid = `${new Date().toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}`;
  await tx.query('INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk) VALUES ($1, $2, $3, $4)', [
    kid, TOKEN_ALGORITHM, JSON.stringify(await exportJWK(privateKey)), JSON.stringify(await exportJWK(publicKey)),
  ]);
  return kid;
}
