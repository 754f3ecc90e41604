import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

describe('createLogger', () => {
  it('redacts secrets wherever they sit in a log object', async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const log = createLogger({ logLevel: 'info', logFormat: 'json' }, 1, sink);
    log.info({ password: 'hunter2', device: { secret: 'gd_abc', name: 'x' }, req: { headers: { authorization: 'Bearer eyJ' } }, refresh_token: 'rt' }, 'login');
    await new Promise((resolve) => setImmediate(resolve));
    const entry = JSON.parse(lines.join(''));
    expect(entry.password).toBe('[redacted]');
    expect(entry.device).toEqual({ secret: '[redacted]', name: 'x' });
    expect(entry.req.headers.authorization).toBe('[redacted]');
    expect(entry.refresh_token).toBe('[redacted]');
    expect(lines.join('')).not.toMatch(/hunter2|gd_abc|eyJ/);
  });
});
