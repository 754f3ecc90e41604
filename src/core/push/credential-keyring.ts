import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GatewayError } from '../errors.js';

/**
 * The keys that seal push credentials at rest (AES-256-GCM). The file holds
 * every key by id and names the current one: rotating adds a key and makes it
 * current, and rows sealed under an older key still open with theirs.
 */
export type Keyring = { current: string; keys: ReadonlyMap<string, Buffer> };
type KeyringFile = { current: string; keys: Record<string, string> };

const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 12);

/** Reads the keyring file, or makes one with a fresh key (readable by this user only) on first start. */
export async function loadKeyring(file: string): Promise<Keyring> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = randomBytes(32);
    const fresh: KeyringFile = { current: keyIdOf(key), keys: { [keyIdOf(key)]: key.toString('base64') } };
    await mkdir(path.dirname(file), { recursive: true });
    // wx: two processes starting at once do not each write a different key.
    await writeFile(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' }).catch((raced: NodeJS.ErrnoException) => {
      if (raced.code !== 'EEXIST') throw raced;
    });
    text = await readFile(file, 'utf8');
  }
  const parsed = JSON.parse(text) as KeyringFile;
  const keys = new Map(Object.entries(parsed.keys ?? {}).map(([id, key]) => [id, Buffer.from(key, 'base64')] as const));
  if (!keys.has(parsed.current) || [...keys.values()].some((key) => key.length !== 32)) {
    throw new GatewayError('CONFIG_INVALID', `${file}: "current" must name one of "keys", each 32 bytes in base64.`);
  }
  return { current: parsed.current, keys };
}

/** iv (12 bytes) ‖ tag (16) ‖ ciphertext, under the current key. */
export function seal(keyring: Keyring, plaintext: string): { keyId: string; sealed: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.keys.get(keyring.current)!, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { keyId: keyring.current, sealed: Buffer.concat([iv, cipher.getAuthTag(), body]) };
}

export function unseal(keyring: Keyring, keyId: string, sealed: Buffer): string {
  const key = keyring.keys.get(keyId);
  if (!key) throw new GatewayError('CONFIG_INVALID', `A push credential is sealed under key ${keyId}, which the keyring no longer has.`);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
}
