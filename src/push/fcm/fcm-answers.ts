import type { SendOutcome } from '../push-message.js';

/**
 * Every FCM HTTP v1 error, as data: error code → what the caller does.
 * Source: https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode and
 * "Detect invalid token responses":
 * https://firebase.google.com/docs/cloud-messaging/manage-tokens#detect-invalid-token-responses-from-the-fcm-backend
 */
export type FcmAction = 'retry' | 'invalid-token' | 'rejected' | 'credential-failure' | 'token-or-rejected';

export type FcmCodeRow = { code: string; status: number; action: FcmAction; minRetryAfterMs?: number; why: string };

/** Google: "retry using exponential backoff with a minimum initial delay of 1 minute" (QUOTA_EXCEEDED). */
export const QUOTA_FLOOR_MS = 60_000;

export const FCM_CODES: readonly FcmCodeRow[] = [
  // FcmError.errorCode values
  { code: 'UNSPECIFIED_ERROR', status: 500, action: 'retry', why: 'no more information' },
  // Token-level only when FCM says the token is what is invalid; otherwise the message is wrong.
  { code: 'INVALID_ARGUMENT', status: 400, action: 'token-or-rejected', why: 'a field (maybe the token) is invalid' },
  { code: 'UNREGISTERED', status: 404, action: 'invalid-token', why: 'the app was uninstalled or the token expired' },
  // Not invalid-token: a tenant's service account for the wrong project would otherwise wipe every token.
  { code: 'SENDER_ID_MISMATCH', status: 403, action: 'rejected', why: 'the token belongs to another sender' },
  { code: 'QUOTA_EXCEEDED', status: 429, action: 'retry', minRetryAfterMs: QUOTA_FLOOR_MS, why: 'message rate exceeded' },
  { code: 'UNAVAILABLE', status: 503, action: 'retry', why: 'FCM is overloaded' },
  { code: 'INTERNAL', status: 500, action: 'retry', why: 'FCM failed' },
  { code: 'THIRD_PARTY_AUTH_ERROR', status: 401, action: 'credential-failure', why: 'the APNs certificate or web push key in the Firebase project is invalid' },
  // google.rpc canonical statuses, answered without an FcmError detail
  { code: 'UNAUTHENTICATED', status: 401, action: 'credential-failure', why: 'the OAuth access token is refused' },
  { code: 'PERMISSION_DENIED', status: 403, action: 'credential-failure', why: 'the service account may not send for this project' },
  { code: 'RESOURCE_EXHAUSTED', status: 429, action: 'retry', minRetryAfterMs: QUOTA_FLOOR_MS, why: 'quota exhausted' },
  { code: 'NOT_FOUND', status: 404, action: 'rejected', why: 'the project (not a token) was not found' },
  { code: 'DEADLINE_EXCEEDED', status: 504, action: 'retry', why: 'FCM timed out' },
];

const BY_CODE = new Map(FCM_CODES.map((row) => [row.code, row]));

/** The error body FCM answers: `{ error: { code, message, status, details } }`. */
export type FcmErrorBody = {
  error?: { code?: number; message?: string; status?: string; details?: Array<Record<string, unknown>> };
};

export type FcmAnswer = { status: number; body?: FcmErrorBody; retryAfterMs?: number };

const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';

/** The FcmError detail's errorCode, else the canonical status, else nothing. */
export function fcmErrorCode(body: FcmErrorBody | undefined): string | undefined {
  const details = body?.error?.details ?? [];
  const fcm = details.find((detail) => detail['@type'] === FCM_ERROR_TYPE);
  if (typeof fcm?.errorCode === 'string') return fcm.errorCode;
  return body?.error?.status;
}

/**
 * Whether an INVALID_ARGUMENT is about the token. FCM says so only in a
 * BadRequest field violation on `message.token` or in its message text (the
 * body has no other signal: firebase/firebase-admin-java#1064).
 */
export function isTokenInvalid(body: FcmErrorBody | undefined): boolean {
  const details = body?.error?.details ?? [];
  const violations = details.filter((detail) => detail['@type'] === BAD_REQUEST_TYPE).flatMap((detail) => (Array.isArray(detail.fieldViolations) ? detail.fieldViolations : []));
  if (violations.some((violation) => (violation as { field?: unknown }).field === 'message.token')) return true;
  return /registration token is not a valid FCM registration token/i.test(body?.error?.message ?? '');
}

function actionOfStatus(status: number): FcmAction {
  if (status === 401 || status === 403) return 'credential-failure';
  if (status === 429 || status >= 500) return 'retry';
  if (status >= 400) return 'rejected';
  return 'retry';
}

/** The outcome of one FCM answer (status, error body, Retry-After). */
export function classifyFcmAnswer(answer: FcmAnswer): SendOutcome {
  if (answer.status === 200) return { result: 'sent' };
  const code = fcmErrorCode(answer.body);
  const row = code === undefined ? undefined : BY_CODE.get(code);
  const reason = code ?? `HTTP ${answer.status}`;
  const action = row?.action ?? actionOfStatus(answer.status);
  switch (action) {
    case 'retry':
      return retry(reason, answer.retryAfterMs, row?.minRetryAfterMs);
    case 'token-or-rejected':
      return isTokenInvalid(answer.body) ? { result: 'invalid-token', reason } : { result: 'rejected', reason };
    default:
      return { result: action, reason };
  }
}

/** Retry-After is a floor; QUOTA_EXCEEDED has a floor of its own. */
function retry(reason: string, retryAfterMs: number | undefined, floorMs: number | undefined): SendOutcome {
  const wait = Math.max(retryAfterMs ?? 0, floorMs ?? 0);
  return wait > 0 ? { result: 'retry', reason, retryAfterMs: wait } : { result: 'retry', reason };
}
