import type { FcmPayload, Notification } from '../push-message.js';
import { essentialData, optionalData } from './deep-link.js';
import { fitToLimit, jsonBytes } from './fit-size.js';
import { actionLabels, localizedText } from './localized-text.js';
import { APPROVAL_CATEGORY, isUrgent, ttlSeconds } from './notification-traits.js';

/** FCM: "the maximum payload for both message types is 4096 bytes". */
export const FCM_MAX_PAYLOAD_BYTES = 4096;

/** The Android notification channel the app creates for each kind of urgency. */
const CHANNEL_URGENT = 'gatehouse_urgent';
const CHANNEL_DEFAULT = 'gatehouse_default';

/**
 * The FCM v1 message of a notification for one locale, without its token.
 * Approvals are data-only: an Android notification message is drawn by the
 * system without action buttons, so the app must draw Approve/Deny itself
 * (https://firebase.google.com/docs/cloud-messaging/concept-options#notifications_and_data_messages).
 * `click_action` carries the same deep link as the data, for the app's intent filter.
 */
export function buildFcmPayload(notification: Notification, locale: string | null | undefined): FcmPayload {
  const { title, body } = localizedText(notification, locale);
  const essential = essentialData(notification);
  const render = (data: Record<string, string>) => (text: string) => message(notification, locale, title, text, data);
  return fitToLimit([render({ ...optionalData(notification), ...essential }), render(essential)], body, measure, FCM_MAX_PAYLOAD_BYTES);
}

function message(notification: Notification, locale: string | null | undefined, title: string, body: string, data: Record<string, string>): FcmPayload {
  const urgent = isUrgent(notification);
  const ttlMs = ttlSeconds(notification) * 1000;
  const priority = urgent ? 'high' : 'normal';
  if (notification.type === 'approval.requested') {
    const labels = actionLabels(locale);
    return {
      platform: 'android',
      data: { ...data, title, body, category: APPROVAL_CATEGORY, actions: 'approve,deny', approveLabel: labels.approve, denyLabel: labels.deny },
      android: { priority, ttlMs },
    };
  }
  return {
    platform: 'android',
    data,
    notification: { title, body },
    android: { priority, ttlMs, notification: { clickAction: data.deepLink ?? '', tag: notification.id, channelId: urgent ? CHANNEL_URGENT : CHANNEL_DEFAULT } },
  };
}

/** What counts against FCM's limit: the data and the notification, keys and values. */
function measure(payload: FcmPayload): number {
  return jsonBytes({ data: payload.data, notification: payload.notification, android: payload.android.notification });
}
