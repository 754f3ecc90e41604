import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyring, seal, unseal } from '../../src/core/push/credential-keyring.js';

describe('the push credential keyring', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'keyring-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is made on first start, readable by its owner only, and the same on the next', async () => {
    const file = path.join(dir, 'nested', 'push.key');
    const first = await loadKeyring(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const second = await loadKeyring(file);
    expect(second.current).toBe(first.current);
    expect(unseal(second, first.current, seal(first, 'secret').sealed)).toBe('secret');
  });

  it('seals with a fresh nonce each time and refuses a tampered box', async () => {
    const ring = await loadKeyring(path.join(dir, 'tamper.key'));
    const a = seal(ring, '-----BEGIN PRIVATE KEY-----');
    expect(a.sealed.equals(seal(ring, '-----BEGIN PRIVATE KEY-----').sealed)).toBe(false);
    expect(a.sealed.toString('utf8')).not.toContain('PRIVATE KEY');
    const tampered = Buffer.from(a.sealed);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => unseal(ring, a.keyId, tampered)).toThrow();
  });

  it('opens what an older key sealed after a rotation', async () => {
    const file = path.join(dir, 'rotate.key');
    const old = await loadKeyring(file);
    const box = seal(old, 'sealed before');
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { current: string; keys: Record<string, string> };
    parsed.keys.next = Buffer.alloc(32, 7).toString('base64');
    parsed.current = 'next';
    await writeFile(file, JSON.stringify(parsed));
    const rotated = await loadKeyring(file);
    expect(seal(rotated, 'x').keyId).toBe('next');
    expect(unseal(rotated, box.keyId, box.sealed)).toBe('sealed before');
  });

  it('refuses a keyring whose current key is missing', async () => {
    const file = path.join(dir, 'broken.key');
    await writeFile(file, JSON.stringify({ current: 'gone', keys: {} }));
    await expect(loadKeyring(file)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
