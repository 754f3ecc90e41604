import { describe, expect, it } from 'vitest';
import { APNS_REASONS, classifyApnsAnswer } from '../../src/push/apns/apns-answers.js';

const REGISTERED = new Date('2026-01-01T00:00:00Z');

// What each documented reason must become; written out again, not derived from the table.
const EXPECTED: Record<string, string> = {
  BadCollapseId: 'rejected', BadDeviceToken: 'invalid-token', BadExpirationDate: 'rejected', BadMessageId: 'rejected',
  BadPriority: 'rejected', BadTopic: 'rejected', DeviceTokenNotForTopic: 'rejected', DuplicateHeaders: 'rejected',
  IdleTimeout: 'retry', InvalidPushType: 'rejected', MissingDeviceToken: 'rejected', MissingTopic: 'rejected',
  PayloadEmpty: 'rejected', TopicDisallowed: 'rejected', BadCertificate: 'credential-failure',
  BadCertificateEnvironment: 'credential-failure', ExpiredProviderToken: 'renew-provider-token', Forbidden: 'credential-failure',
  InvalidProviderToken: 'credential-failure', MissingProviderToken: 'credential-failure', UnrelatedKeyIdInToken: 'credential-failure',
  BadEnvironmentKeyInToken: 'credential-failure', BadPath: 'rejected', MethodNotAllowed: 'rejected', ExpiredToken: 'invalid-token',
  Unregistered: 'invalid-token', PayloadTooLarge: 'rejected', TooManyProviderTokenUpdates: 'retry', TooManyRequests: 'retry',
  InternalServerError: 'retry', ServiceUnavailable: 'retry', Shutdown: 'retry',
};

describe('the APNs reason table', () => {
  it('holds every reason Apple documents, once', () => {
    expect(APNS_REASONS.map((row) => row.reason).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(APNS_REASONS.map((row) => [row.status, row.reason] as const))('%i %s', (status, reason) => {
    const outcome = classifyApnsAnswer({ status, reason }, REGISTERED);
    expect(outcome.result).toBe(EXPECTED[reason]);
    expect('reason' in outcome && outcome.reason).toBe(reason);
  });

  it('answers sent for 200', () => {
    expect(classifyApnsAnswer({ status: 200 }, REGISTERED)).toEqual({ result: 'sent' });
  });

  it('invalidates on 410 when the token was registered before the timestamp', () => {
    const timestamp = REGISTERED.getTime() + 60_000;
    expect(classifyApnsAnswer({ status: 410, reason: 'Unregistered', timestamp }, REGISTERED))
      .toEqual({ result: 'invalid-token', reason: 'Unregistered', unregisteredAt: new Date(timestamp) });
  });

  it('keeps a token registered after the 410 timestamp, and does not retry the delivery', () => {
    const timestamp = REGISTERED.getTime() - 60_000;
    expect(classifyApnsAnswer({ status: 410, reason: 'Unregistered', timestamp }, REGISTERED))
      .toEqual({ result: 'rejected', reason: 'UnregisteredBeforeRegistration' });
  });

  it('carries Retry-After on a retry', () => {
    expect(classifyApnsAnswer({ status: 429, reason: 'TooManyRequests', retryAfterMs: 5000 }, REGISTERED))
      .toEqual({ result: 'retry', reason: 'TooManyRequests', retryAfterMs: 5000 });
  });

  it.each([
    [400, 'rejected'], [403, 'credential-failure'], [404, 'rejected'], [410, 'invalid-token'], [413, 'rejected'],
    [429, 'retry'], [500, 'retry'], [502, 'retry'], [503, 'retry'],
  ] as const)('decides an undocumented reason by its status %i → %s', (status, result) => {
    expect(classifyApnsAnswer({ status, reason: 'SomethingNew' }, REGISTERED).result).toBe(result);
    expect(classifyApnsAnswer({ status }, REGISTERED).result).toBe(result);
  });
});
