import { describe, expect, it } from 'vitest';
import { checkTelemetryPayload, stateObject } from '../../src/core/telemetry/telemetry-payload.js';

const kind = (payload: Buffer | string) => {
  const verdict = checkTelemetryPayload(Buffer.isBuffer(payload) ? payload : Buffer.from(payload), 64 * 1024);
  return !verdict.ok ? verdict.reason : typeof verdict.payload === 'string' ? 'json' : 'bytes';
};

describe('telemetry payloads: any bytes are telemetry; JSON that jsonb can hold is JSON', () => {
  it('every JSON value is JSON', () => {
    for (const text of ['{"a":1}', '[1,2]', '21.5', '"on"', 'true', 'null', ' { "spaced" : true } ', '"\\ud83d\\ude00"']) expect(kind(text), text).toBe('json');
  });

  it('anything else, and JSON jsonb refuses (NUL escapes, lone surrogates, nesting past Postgres\'s stack), is bytes', () => {
    for (const text of ['temperature=21.5', '', '{"a":', '"\\u0000"', '"\\ud800"', '"\\udc00"', '"x\\ud800y"']) expect(kind(text), text).toBe('bytes');
    expect(kind(Buffer.from([0x7b, 0x7d, 0xff]))).toBe('bytes');
    expect(kind('['.repeat(5_000) + ']'.repeat(5_000))).toBe('bytes');
    expect(kind('['.repeat(4_000) + ']'.repeat(4_000))).toBe('json');
  });

  it('refuses only what is over the limit', () => {
    expect(checkTelemetryPayload(Buffer.alloc(65), 64)).toEqual({ ok: false, reason: 'too_large' });
  });

  it('a state must be a JSON object', () => {
    expect(stateObject(' {"on":true}')).toBe(' {"on":true}');
    expect(stateObject('[1]')).toBeUndefined();
    expect(stateObject(Buffer.from('{}'))).toBeUndefined();
  });
});
