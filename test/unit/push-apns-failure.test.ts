import { describe, expect, it } from 'vitest';
import { apnsAnswerOf } from '../../src/push/apns/apns-failure.js';
import { collapseIdOf } from '../../src/push/collapse-id.js';

// The shapes @parse/node-apn 8 puts in `failed[]` (lib/client.js).
describe('node-apn failures', () => {
  it('reads status, reason and the 410 timestamp', () => {
    expect(apnsAnswerOf({ status: 410, response: { reason: 'Unregistered', timestamp: 1767225600000 } }))
      .toEqual({ status: 410, reason: 'Unregistered', timestamp: 1767225600000 });
    expect(apnsAnswerOf({ status: 410, response: { reason: 'Unregistered', timestamp: '1767225600000' } })?.timestamp).toBe(1767225600000);
  });

  it('finds ExpiredProviderToken and InternalServerError in the error node-apn made of them', () => {
    expect(apnsAnswerOf({ status: 403, error: { message: 'ExpiredProviderToken' } })).toEqual({ status: 403, reason: 'ExpiredProviderToken' });
    expect(apnsAnswerOf({ status: 500, error: { message: 'Error 500, stream ended unexpectedly' } })).toEqual({ status: 500, reason: 'InternalServerError' });
  });

  it('has no answer for a timeout or a broken connection', () => {
    expect(apnsAnswerOf({ error: { message: 'apn write timeout' } })).toBeUndefined();
    expect(apnsAnswerOf({ status: '(timeout)', error: { message: 'Timeout, aborted, or other unknown error' } })).toBeUndefined();
  });

  it('carries the Retry-After it is given', () => {
    expect(apnsAnswerOf({ status: 429, response: { reason: 'TooManyRequests' } }, 30_000)).toEqual({ status: 429, reason: 'TooManyRequests', retryAfterMs: 30_000 });
  });
});

describe('collapse ids', () => {
  it('is the notification id when it fits in 64 bytes', () => {
    expect(collapseIdOf('0195f3a0-0000-7000-8000-00000000000a')).toBe('0195f3a0-0000-7000-8000-00000000000a');
  });

  it('is a stable digest of a longer id, within 64 bytes', () => {
    const long = 'n'.repeat(65);
    expect(collapseIdOf(long)).toBe(collapseIdOf(long));
    expect(Buffer.byteLength(collapseIdOf(long))).toBeLessThanOrEqual(64);
    expect(collapseIdOf(long)).not.toBe(collapseIdOf(`${long}x`));
  });
});
