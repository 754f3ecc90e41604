import type { ApnsAnswer } from './apns-answers.js';

/**
 * What @parse/node-apn 8 puts in `failed[]`: `{ status, response: { reason,
 * timestamp } }` for an answer with a body, but `{ status, error }` for
 * ExpiredProviderToken and 500 (the reason moved into the error), and
 * `{ error }` alone for timeouts and broken connections (lib/client.js).
 */
export type ApnFailure = {
  status?: number | string;
  response?: { reason?: string; timestamp?: string | number };
  error?: { message?: string };
};

/** The answer APNs gave, or undefined when none came back (a transport failure). */
export function apnsAnswerOf(failure: ApnFailure, retryAfterMs?: number): ApnsAnswer | undefined {
  if (typeof failure.status !== 'number') return undefined;
  const answer: ApnsAnswer = { status: failure.status };
  const reason = failure.response?.reason ?? reasonInError(failure);
  if (reason) answer.reason = reason;
  const timestamp = Number(failure.response?.timestamp);
  if (failure.response?.timestamp !== undefined && Number.isFinite(timestamp)) answer.timestamp = timestamp;
  if (retryAfterMs !== undefined) answer.retryAfterMs = retryAfterMs;
  return answer;
}

function reasonInError(failure: ApnFailure): string | undefined {
  if (failure.status === 403 && failure.error?.message === 'ExpiredProviderToken') return 'ExpiredProviderToken';
  if (failure.status === 500) return 'InternalServerError';
  return undefined;
}
