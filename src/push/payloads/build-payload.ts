import type { BuiltPayload, Notification, Platform } from '../push-message.js';
import { buildApnsPayload } from './apns-payload.js';
import { buildFcmPayload } from './fcm-payload.js';

/** The payload of a notification for one token's platform and its user's locale. */
export function buildPayload(platform: Platform, notification: Notification, locale: string | undefined): BuiltPayload {
  return platform === 'ios' ? buildApnsPayload(notification, locale) : buildFcmPayload(notification, locale);
}
