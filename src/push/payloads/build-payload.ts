import type { BuiltPayload, Notification, Platform } from '../push-message.js';
import { buildApnsPayload } from './apns-payload.js';
import { buildFcmPayload } from './fcm-payload.js';

/**
 * The payload of a notification for one token's platform and its user's
 * locale (PushWorkerDeps.build). Throws PAYLOAD_TOO_LARGE only when even
 * without its body the notification exceeds 4096 bytes.
 */
export function buildPayload(notification: Notification, platform: Platform, locale: string | null | undefined): BuiltPayload {
  return platform === 'ios' ? buildApnsPayload(notification, locale) : buildFcmPayload(notification, locale);
}
