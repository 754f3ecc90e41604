import { ESLint } from 'eslint';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * DESIGN.md §4.2: only src/auth can make a TenantContext. The minting module
 * (src/auth/issue-context.ts, which owns the registry of issued contexts) may be
 * imported from src/auth and, for tests, from test/support/fixtures.ts alone.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MINT = path.join(ROOT, 'src/auth/issue-context');
const ALLOWED_OUTSIDE_AUTH = [path.join(ROOT, 'test/support/fixtures.ts')];

/** This file names the module only inside scratch code it hands the linter. */
const SELF = fileURLToPath(import.meta.url);

const mayMint = (file: string) => file.startsWith(path.join(ROOT, 'src/auth') + path.sep) || ALLOWED_OUTSIDE_AUTH.includes(file) || file === SELF;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(full);
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [full] : [];
  });
}

/** Every module specifier a file names: static and dynamic imports, re-exports, require(). */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"`]([^'"`]+)['"`]/g, /\bimport\s+['"]([^'"]+)['"]/g, /\brequire\s*\(\s*['"`]([^'"`]+)['"`]/g];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

const namesMint = (file: string, specifier: string) =>
  specifier.startsWith('.') && path.resolve(path.dirname(file), specifier).replace(/\.(ts|js)$/, '') === MINT;

async function lintAs(relativePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, relativePath) });
  return result!.messages.filter((message) => message.ruleId === 'no-restricted-imports').map((message) => message.message);
}

describe('minting a TenantContext', () => {
  it('no file outside src/auth (but the test fixture) imports the minting module', () => {
    const offenders = ['src', 'test', 'bench'].flatMap((dir) => sourceFiles(path.join(ROOT, dir)))
      .filter((file) => !mayMint(file) && specifiers(readFileSync(file, 'utf8')).some((specifier) => namesMint(file, specifier)))
      .map((file) => path.relative(ROOT, file));
    expect(offenders).toEqual([]);
  });

  it('the scan sees an import of the minting module, so an empty answer above means something', () => {
    const file = path.join(ROOT, 'src/core/somewhere.ts');
    expect(specifiers(`import { issueContext } from '../auth/issue-context.js';`).some((s) => namesMint(file, s))).toBe(true);
    expect(specifiers(`const m = await import('../auth/issue-context.js');`).some((s) => namesMint(file, s))).toBe(true);
    expect(specifiers(`import type { TenantContext } from '../auth/context.js';`).some((s) => namesMint(file, s))).toBe(false);
  });

  it('the linter refuses the import outside src/auth, in source, tests and the bench', async () => {
    const importing = (specifier: string) => `import { issueContext } from '${specifier}';\nexport const mint = issueContext;\n`;
    expect(await lintAs('src/core/minting-scratch.ts', importing('../auth/issue-context.js'))).toHaveLength(1);
    expect(await lintAs('src/broker/hooks/minting-scratch.ts', importing('../../auth/issue-context'))).toHaveLength(1);
    expect(await lintAs('test/integration/minting-scratch.test.ts', importing('../../src/auth/issue-context.js'))).toHaveLength(1);
    expect(await lintAs('bench/minting-scratch.ts', importing('../src/auth/issue-context.js'))).toHaveLength(1);
  });

  it('the linter allows it in src/auth and in the test fixture, and allows the context types everywhere', async () => {
    expect(await lintAs('src/auth/minting-scratch.ts', `import { issueContext } from './issue-context.js';\nexport const mint = issueContext;\n`)).toEqual([]);
    expect(await lintAs('test/support/fixtures.ts', `import { issueContext } from '../../src/auth/issue-context.js';\nexport const mint = issueContext;\n`)).toEqual([]);
    expect(await lintAs('src/core/minting-scratch.ts', `import { isTenantContext } from '../auth/context.js';\nexport const check = isTenantContext;\n`)).toEqual([]);
  });

  it('a look-alike object is not a context: the registry is no longer exported', async () => {
    const context = await import('../../src/auth/context.js');
    expect(Object.keys(context)).not.toContain('issuedContexts');
    const lookAlike = { tenantId: '01a20000-0000-7000-8000-00000000000a', principal: { kind: 'user', id: 'x' }, channel: 'web', roles: ['owner'], scopes: [] };
    expect(context.isTenantContext(lookAlike)).toBe(false);
  });
});
