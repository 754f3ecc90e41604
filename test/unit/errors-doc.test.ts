import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../../src/api/http-status.js';
import { ERROR_CODES } from '../../src/core/errors.js';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it('documents every error code with its HTTP status', () => {
    for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
      expect(row, `row for ${code}`).toBeDefined();
      expect(row).toContain(`| ${HTTP_STATUS[code]} |`);
    }
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)`/gm)].map((match) => match[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
