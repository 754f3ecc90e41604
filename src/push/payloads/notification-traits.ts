import type { Notification, NotificationType } from '../push-message.js';

/** The iOS category whose Approve/Deny actions the app registers (UNNotificationCategory). */
export const APPROVAL_CATEGORY = 'GATEHOUSE_APPROVAL';

/**
 * How long a provider keeps trying an offline phone: an alarm a day later is
 * still worth reading; an approval prompt an hour old is not worth a buzz.
 */
const TTL_SECONDS: Record<NotificationType, number> = {
  'device.alarm': 24 * 3600,
  'device.event': 6 * 3600,
  'device.offline': 6 * 3600,
  'command.failed': 24 * 3600,
  'command.expired': 24 * 3600,
  'approval.requested': 3600,
  'pin.locked': 24 * 3600,
  'security.event': 24 * 3600,
};

export function ttlSeconds(notification: Notification): number {
  return TTL_SECONDS[notification.type];
}

/**
 * iOS 15 interruption levels (`aps.interruption-level`): critical alarms break
 * through Focus and silent mode (needs Apple's entitlement), alarms and
 * approvals are time-sensitive.
 * https://developer.apple.com/documentation/usernotifications/generating-a-remote-notification
 */
export type InterruptionLevel = 'critical' | 'time-sensitive' | 'active';

export function interruptionLevel(notification: Notification): InterruptionLevel {
  if (notification.critical) return 'critical';
  if (notification.type === 'device.alarm' || notification.type === 'approval.requested') return 'time-sensitive';
  return 'active';
}

/** Urgent: delivered at once (APNs priority 10, FCM high); the rest when the phone's power allows. */
export function isUrgent(notification: Notification): boolean {
  return interruptionLevel(notification) !== 'active' || notification.type === 'pin.locked' || notification.type === 'security.event';
}

/** Groups a device's notifications in one thread (`aps.thread-id`, Android `tag` stays per notification). */
export function threadId(notification: Notification): string {
  return notification.deviceName ? `device:${notification.deviceName}` : notification.type;
}
