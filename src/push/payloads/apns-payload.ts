import type { ApnsPayload, Notification } from '../push-message.js';
import { essentialData, optionalData } from './deep-link.js';
import { fitToLimit } from './fit-size.js';
import { localizedText } from './localized-text.js';
import { APPROVAL_CATEGORY, interruptionLevel, isUrgent, threadId, ttlSeconds } from './notification-traits.js';

/** Apple: "the maximum payload size is 4 KB (4096 bytes)" for a regular remote notification. */
export const APNS_MAX_PAYLOAD_BYTES = 4096;

/**
 * The APNs payload of a notification for one locale (gorush's buildIOSPayload).
 * Keys of `aps`: https://developer.apple.com/documentation/usernotifications/generating-a-remote-notification
 * Our own keys sit beside `aps` under `gatehouse`, as Apple asks for custom data.
 */
export function buildApnsPayload(notification: Notification, locale: string | null | undefined): ApnsPayload {
  const { title, body } = localizedText(notification, locale);
  const essential = essentialData(notification);
  const withOptional = (text: string) => render(notification, title, text, { ...optionalData(notification), ...essential });
  const withoutOptional = (text: string) => render(notification, title, text, essential);
  const json = fitToLimit([withOptional, withoutOptional], body, (text) => Buffer.byteLength(text, 'utf8'), APNS_MAX_PAYLOAD_BYTES);
  return {
    platform: 'ios',
    body: json,
    pushType: 'alert',
    priority: isUrgent(notification) ? 10 : 5,
    expiresAt: new Date(notification.createdAt.getTime() + ttlSeconds(notification) * 1000),
  };
}

function render(notification: Notification, title: string, body: string, data: Record<string, string>): string {
  const level = interruptionLevel(notification);
  const aps: Record<string, unknown> = {
    alert: { title, body },
    // A critical alert plays at full volume even when muted; it needs the dictionary form.
    sound: level === 'critical' ? { critical: 1, name: 'default', volume: 1 } : 'default',
    // Lets the app's notification service extension decorate or decrypt the alert.
    'mutable-content': 1,
    'thread-id': threadId(notification),
    'interruption-level': level,
  };
  if (notification.type === 'approval.requested') aps.category = APPROVAL_CATEGORY;
  return JSON.stringify({ aps, gatehouse: data });
}
