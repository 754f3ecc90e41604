import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/**
 * argon2id for every stored secret: passwords, device and app secrets, voice PINs.
 * Parameters for what a person chose: OWASP's recommended minimum for argon2id (19 MiB, 2 passes, 1 lane).
 * One lane because a 2-core server verifies many secrets at once (a reconnect
 * storm); more lanes would only make each verification fight the others.
 * About 25 ms of one core per hash on the reference machine (bench/credentials).
 */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * argon2id for device secrets, which Gatehouse generates (192 random bits,
 * generateSecret). A slow, memory-hard hash buys time against guessing what a
 * person chose; a uniformly random 192-bit secret takes 2^191 guesses on
 * average (at 10^12 a second, ~10^38 years), whatever a guess costs, so the
 * passwords' 19 MiB × 2 passes would be paid by the gateway alone: ~25 ms of a
 * core per device registered and per cold CONNECT (a 1 000-device batch ~12 s
 * of both cores on an idle 2-core server). 1 MiB × 1 pass: ~1 ms (issue 22).
 * Still argon2id in the same encoded form: verification reads the parameters
 * from the stored hash, so hashes made with ARGON2_OPTIONS keep verifying.
 */
export const GENERATED_SECRET_ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 1_024, timeCost: 1, parallelism: 1 } as const;

/** How a secret is hashed: `password` for what a person chose (passwords, PINs), `generated` for device secrets. */
export type SecretKind = 'password' | 'generated';
const OPTIONS: Record<SecretKind, typeof ARGON2_OPTIONS | typeof GENERATED_SECRET_ARGON2_OPTIONS> = { password: ARGON2_OPTIONS, generated: GENERATED_SECRET_ARGON2_OPTIONS };

/**
 * argon2 runs on libuv's thread pool (4 threads), which Postgres connections
 * need too (SCRAM's PBKDF2). Two at a time keep both cores busy during a
 * reconnect storm while leaving threads free, so the pool can still open
 * connections (unbounded, 200 queued hashes starved them into timeouts), and
 * bound argon2's memory to 2 × 19 MiB.
 */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export function hashSecret(secret: string, kind: SecretKind = 'password'): Promise<string> {
  return limited(() => argon2.hash(secret, OPTIONS[kind]));
}

/**
 * Hashes many secrets (a fleet batch) on the same two threads, keeping at most
 * MAX_CONCURRENT of them queued at a time: a CONNECT or a login that needs
 * argon2 meanwhile waits behind two batch hashes, not behind the whole batch
 * (1 000 generated secrets ≈ 0.5 s on two threads; as passwords ≈ 12 s). More
 * threads would not go faster on a 2-core server and would starve Postgres's
 * connects of the pool.
 */
export async function hashSecrets(secrets: readonly string[], kind: SecretKind = 'password'): Promise<string[]> {
  const hashes = new Array<string>(secrets.length);
  let next = 0;
  const worker = async () => {
    while (next < secrets.length) {
      const index = next++;
      hashes[index] = await hashSecret(secrets[index]!, kind);
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_CONCURRENT, secrets.length) }, worker));
  return hashes;
}

/** Constant-time comparison is argon2's own; a malformed stored hash counts as a mismatch. */
export async function verifySecret(hash: string, secret: string): Promise<boolean> {
  try {
    return await limited(() => argon2.verify(hash, secret));
  } catch {
    return false;
  }
}

const dummyHashes = new Map<SecretKind, Promise<string>>();

/**
 * Spends the same time as a real verification when there is no account, so the
 * response time does not say whether the account exists. `kind`: how that sort
 * of account's secrets are hashed.
 */
export async function verifyAgainstNothing(secret: string, kind: SecretKind = 'password'): Promise<false> {
  let dummy = dummyHashes.get(kind);
  if (!dummy) dummyHashes.set(kind, (dummy = hashSecret(randomBytes(16).toString('hex'), kind)));
  await verifySecret(await dummy, secret);
  return false;
}

/** 192 random bits, URL-safe, with a visible prefix that says what the secret is for (seed 000). */
export function generateSecret(prefix: 'gd' | 'ga' | 'gs'): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}
