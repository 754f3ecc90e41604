import type { SendOutcome } from '../push-message.js';

/**
 * Every reason APNs answers, as data: status + reason → what the caller does.
 * Source: "Handling notification responses from APNs", table "Values for the
 * APNs JSON reason key":
 * https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 */
export type ApnsAction = 'retry' | 'invalid-token' | 'rejected' | 'credential-failure' | 'renew-provider-token';

export type ApnsReasonRow = { status: number; reason: string; action: ApnsAction; why: string };

export const APNS_REASONS: readonly ApnsReasonRow[] = [
  { status: 400, reason: 'BadCollapseId', action: 'rejected', why: 'apns-collapse-id longer than 64 bytes' },
  { status: 400, reason: 'BadDeviceToken', action: 'invalid-token', why: 'not a device token (or one of the other environment): it will never work' },
  { status: 400, reason: 'BadExpirationDate', action: 'rejected', why: 'apns-expiration is bad' },
  { status: 400, reason: 'BadMessageId', action: 'rejected', why: 'apns-id is not a UUID' },
  { status: 400, reason: 'BadPriority', action: 'rejected', why: 'apns-priority is bad' },
  { status: 400, reason: 'BadTopic', action: 'rejected', why: 'apns-topic is bad' },
  // Not invalid-token: a tenant's wrong topic would otherwise wipe every token it has.
  { status: 400, reason: 'DeviceTokenNotForTopic', action: 'rejected', why: 'the token belongs to another app' },
  { status: 400, reason: 'DuplicateHeaders', action: 'rejected', why: 'a header was repeated' },
  { status: 400, reason: 'IdleTimeout', action: 'retry', why: 'the connection idled out' },
  { status: 400, reason: 'InvalidPushType', action: 'rejected', why: 'apns-push-type is bad' },
  { status: 400, reason: 'MissingDeviceToken', action: 'rejected', why: 'no token in the path' },
  { status: 400, reason: 'MissingTopic', action: 'rejected', why: 'apns-topic is required for token authentication' },
  { status: 400, reason: 'PayloadEmpty', action: 'rejected', why: 'empty body' },
  { status: 400, reason: 'TopicDisallowed', action: 'rejected', why: 'pushing to this topic is not allowed' },
  { status: 403, reason: 'BadCertificate', action: 'credential-failure', why: 'the certificate is bad' },
  { status: 403, reason: 'BadCertificateEnvironment', action: 'credential-failure', why: 'the certificate is for the other environment' },
  // Apple: "Generate a new token"; the sender does, and tries once more itself.
  { status: 403, reason: 'ExpiredProviderToken', action: 'renew-provider-token', why: 'the provider token is older than an hour' },
  { status: 403, reason: 'Forbidden', action: 'credential-failure', why: 'the action is not allowed' },
  { status: 403, reason: 'InvalidProviderToken', action: 'credential-failure', why: 'the provider token is not valid or its signature cannot be verified' },
  { status: 403, reason: 'MissingProviderToken', action: 'credential-failure', why: 'no certificate and no provider token' },
  { status: 403, reason: 'UnrelatedKeyIdInToken', action: 'credential-failure', why: 'the key id is not related to the first one used on this connection' },
  { status: 403, reason: 'BadEnvironmentKeyInToken', action: 'credential-failure', why: 'the key is not valid for this environment' },
  { status: 404, reason: 'BadPath', action: 'rejected', why: 'the request path is bad' },
  { status: 405, reason: 'MethodNotAllowed', action: 'rejected', why: 'only POST is allowed' },
  { status: 410, reason: 'ExpiredToken', action: 'invalid-token', why: 'the device token has expired' },
  { status: 410, reason: 'Unregistered', action: 'invalid-token', why: 'the token is no longer active for the topic' },
  { status: 413, reason: 'PayloadTooLarge', action: 'rejected', why: 'the payload is over 4096 bytes' },
  { status: 429, reason: 'TooManyProviderTokenUpdates', action: 'retry', why: 'the provider token changed too often' },
  { status: 429, reason: 'TooManyRequests', action: 'retry', why: 'too many requests to the same device token' },
  { status: 500, reason: 'InternalServerError', action: 'retry', why: 'APNs failed' },
  { status: 503, reason: 'ServiceUnavailable', action: 'retry', why: 'APNs is unavailable' },
  { status: 503, reason: 'Shutdown', action: 'retry', why: 'the APNs server is shutting down' },
];

const BY_REASON = new Map(APNS_REASONS.map((row) => [row.reason, row]));

/** A reason Apple has not documented yet: decided by its status alone. */
export function actionOfStatus(status: number): ApnsAction {
  if (status === 410) return 'invalid-token';
  if (status === 403) return 'credential-failure';
  if (status === 429 || status >= 500) return 'retry';
  if (status >= 400) return 'rejected';
  return 'retry';
}

export type ApnsAnswer = {
  status: number;
  reason?: string;
  /** 410 only: milliseconds since the epoch at which APNs knew the token was gone. */
  timestamp?: number;
  retryAfterMs?: number;
};

/**
 * The outcome of one APNs answer. `renew-provider-token` stays for the sender
 * to act on (it renews and retries once); everything else is final.
 */
export function classifyApnsAnswer(answer: ApnsAnswer, tokenRegisteredAt: Date): SendOutcome | { result: 'renew-provider-token'; reason: string } {
  if (answer.status === 200) return { result: 'sent' };
  const reason = answer.reason ?? `HTTP ${answer.status}`;
  const action = (answer.reason && BY_REASON.get(answer.reason)?.action) || actionOfStatus(answer.status);
  switch (action) {
    case 'retry':
      return answer.retryAfterMs === undefined ? { result: 'retry', reason } : { result: 'retry', reason, retryAfterMs: answer.retryAfterMs };
    case 'invalid-token':
      return invalidToken(reason, answer.timestamp, tokenRegisteredAt);
    case 'renew-provider-token':
      return { result: 'renew-provider-token', reason };
    default:
      return { result: action, reason };
  }
}

/**
 * Apple: "stop pushing to the token unless you verify that the token was
 * registered after the timestamp" (410). A token registered since is the
 * app's current one: this delivery failed, the token stays.
 */
function invalidToken(reason: string, timestamp: number | undefined, registeredAt: Date): SendOutcome {
  if (timestamp === undefined || !Number.isFinite(timestamp)) return { result: 'invalid-token', reason };
  const unregisteredAt = new Date(timestamp);
  if (registeredAt.getTime() > timestamp) return { result: 'rejected', reason: `${reason}BeforeRegistration` };
  return { result: 'invalid-token', reason, unregisteredAt };
}
