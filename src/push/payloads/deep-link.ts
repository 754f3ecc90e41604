import type { Notification } from '../push-message.js';

/**
 * Where tapping the notification leads in the app. An approval's link carries
 * the command id: the app calls `POST /v1/commands/<id>/approve` with it.
 */
export function deepLinkOf(notification: Notification): string {
  if (notification.commandId) return `gatehouse://commands/${encodeURIComponent(notification.commandId)}`;
  if (notification.deviceName) return `gatehouse://devices/${encodeURIComponent(notification.deviceName)}`;
  if (notification.type === 'pin.locked' || notification.type === 'security.event') return 'gatehouse://security';
  return `gatehouse://notifications/${encodeURIComponent(notification.id)}`;
}

/**
 * The data the app needs to act on the notification: never shortened to fit
 * the size limit (the body is). Strings only: FCM `data` takes nothing else.
 */
export function essentialData(notification: Notification): Record<string, string> {
  const data: Record<string, string> = {
    notificationId: notification.id,
    type: notification.type,
    tenantId: notification.tenantId,
    deepLink: deepLinkOf(notification),
  };
  if (notification.commandId) data.commandId = notification.commandId;
  return data;
}

/** What may go when the payload is too large: names for display and the cause's extra data. */
export function optionalData(notification: Notification): Record<string, string> {
  const data: Record<string, string> = { ...notification.data };
  if (notification.deviceName) data.deviceName = notification.deviceName;
  if (notification.kind) data.kind = notification.kind;
  return data;
}
