import { describe, expect, it } from 'vitest';
import { FCM_CODES, classifyFcmAnswer, type FcmErrorBody } from '../../src/push/fcm/fcm-answers.js';
import { parseRetryAfter } from '../../src/push/retry-after.js';

/** The body FCM v1 answers: a canonical status and an FcmError detail. */
function body(status: number, canonical: string, errorCode?: string, message = 'error'): FcmErrorBody {
  const details = errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [];
  return { error: { code: status, message, status: canonical, details } };
}

const CANONICAL: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };

const EXPECTED: Record<string, string> = {
  UNSPECIFIED_ERROR: 'retry', INVALID_ARGUMENT: 'rejected', UNREGISTERED: 'invalid-token', SENDER_ID_MISMATCH: 'rejected',
  QUOTA_EXCEEDED: 'retry', UNAVAILABLE: 'retry', INTERNAL: 'retry', THIRD_PARTY_AUTH_ERROR: 'credential-failure',
  UNAUTHENTICATED: 'credential-failure', PERMISSION_DENIED: 'credential-failure', RESOURCE_EXHAUSTED: 'retry',
  NOT_FOUND: 'rejected', DEADLINE_EXCEEDED: 'retry',
};

describe('the FCM error table', () => {
  it('holds the documented codes', () => {
    expect(FCM_CODES.map((row) => row.code).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(FCM_CODES.map((row) => [row.code, row.status] as const))('%s (%i)', (code, status) => {
    const outcome = classifyFcmAnswer({ status, body: body(status, CANONICAL[status] ?? 'UNKNOWN', code) });
    expect(outcome.result).toBe(EXPECTED[code]);
    expect('reason' in outcome && outcome.reason).toBe(code);
  });

  it('reads a canonical status when there is no FcmError detail', () => {
    expect(classifyFcmAnswer({ status: 401, body: body(401, 'UNAUTHENTICATED') })).toEqual({ result: 'credential-failure', reason: 'UNAUTHENTICATED' });
  });

  it('answers sent for 200', () => {
    expect(classifyFcmAnswer({ status: 200 })).toEqual({ result: 'sent' });
  });

  it('invalidates on a token-level INVALID_ARGUMENT (the message FCM really sends)', () => {
    const answer = { status: 400, body: body(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token') };
    expect(classifyFcmAnswer(answer)).toEqual({ result: 'invalid-token', reason: 'INVALID_ARGUMENT' });
  });

  it('invalidates on a BadRequest field violation on message.token', () => {
    const answer = body(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'Request contains an invalid argument.');
    answer.error!.details!.push({ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] });
    expect(classifyFcmAnswer({ status: 400, body: answer }).result).toBe('invalid-token');
  });

  it('rejects (keeps the token) for an INVALID_ARGUMENT about another field', () => {
    const answer = body(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'Invalid value at \'message.data[0].value\'');
    expect(classifyFcmAnswer({ status: 400, body: answer })).toEqual({ result: 'rejected', reason: 'INVALID_ARGUMENT' });
  });

  it('waits at least 60 s after QUOTA_EXCEEDED, longer when Retry-After says so', () => {
    expect(classifyFcmAnswer({ status: 429, body: body(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'), retryAfterMs: 5000 }))
      .toEqual({ result: 'retry', reason: 'QUOTA_EXCEEDED', retryAfterMs: 60_000 });
    expect(classifyFcmAnswer({ status: 429, body: body(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'), retryAfterMs: 120_000 }))
      .toEqual({ result: 'retry', reason: 'QUOTA_EXCEEDED', retryAfterMs: 120_000 });
  });

  it('carries Retry-After on UNAVAILABLE, and none when absent', () => {
    expect(classifyFcmAnswer({ status: 503, body: body(503, 'UNAVAILABLE', 'UNAVAILABLE'), retryAfterMs: 7000 }))
      .toEqual({ result: 'retry', reason: 'UNAVAILABLE', retryAfterMs: 7000 });
    expect(classifyFcmAnswer({ status: 503, body: body(503, 'UNAVAILABLE', 'UNAVAILABLE') })).toEqual({ result: 'retry', reason: 'UNAVAILABLE' });
  });

  it.each([[400, 'rejected'], [401, 'credential-failure'], [403, 'credential-failure'], [404, 'rejected'], [429, 'retry'], [502, 'retry']] as const)(
    'decides a body it cannot read by its status %i → %s', (status, result) => {
      expect(classifyFcmAnswer({ status }).result).toBe(result);
      expect(classifyFcmAnswer({ status }).result === 'sent').toBe(false);
    });
});

describe('Retry-After', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it.each([
    ['120', 120_000], [' 3 ', 3000], ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000], ['Wed, 31 Dec 2025 23:00:00 GMT', 0], ['soon', undefined], [undefined, undefined],
  ] as const)('%s → %s ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});
