import type { NotificationType } from '../core/notifications/notification-outbox.js';
import type { PushEnvironment, PushPlatform as Platform } from '../core/push/push-tokens.js';

/**
 * What a push sender is given and what it answers. The outbox workers hand a
 * sender a batch of (target, payload) pairs and get one SendOutcome per pair,
 * in the same order; every provider answer is data, never a thrown error.
 */

// Platforms and environments are the token registry's (the core's).
export type { PushPlatform as Platform, PushEnvironment } from '../core/push/push-tokens.js';

export type PushTarget = {
  /** The outbox row; APNs `apns-id` (a UUID), so Apple's answer names the delivery. */
  deliveryId: string;
  /** The notification; `apns-collapse-id` / FCM `collapseKey`, so a second copy replaces the first. */
  notificationId: string;
  token: string;
  platform: Platform;
  environment: PushEnvironment;
  /** Compared with the timestamp of an APNs 410: a token registered after it is alive again. */
  tokenRegisteredAt: Date;
};

// The kinds of notification are the core's (the outbox writes them); push only renders and sends them.
export { NOTIFICATION_TYPES, type NotificationType } from '../core/notifications/notification-outbox.js';

export type Notification = {
  id: string;
  type: NotificationType;
  tenantId: string;
  deviceName?: string;
  commandId?: string;
  commandName?: string;
  /** The device event's kind (`devices/<name>/events/<kind>`) or the security event's type. */
  kind?: string;
  critical: boolean;
  /** Extra key/values for the app; strings only because FCM `data` takes only strings. */
  data: Record<string, string>;
  createdAt: Date;
};

/** What `buildApnsPayload` makes: the JSON body and the headers that depend on the notification. */
export type ApnsPayload = {
  platform: 'ios';
  /** The JSON body, already measured: at most 4096 bytes. */
  body: string;
  pushType: 'alert';
  /** 10: deliver now; 5: when the device's power allows. */
  priority: 10 | 5;
  /** `apns-expiration`: after this Apple stops trying to deliver. */
  expiresAt: Date;
};

/** What `buildFcmPayload` makes: an FCM v1 message without its token. */
export type FcmPayload = {
  platform: 'android';
  data: Record<string, string>;
  /** Absent for data-only messages (approvals: the app draws Approve/Deny itself). */
  notification?: { title: string; body: string };
  android: {
    priority: 'high' | 'normal';
    /** Milliseconds FCM keeps the message for an offline device. */
    ttlMs: number;
    notification?: { clickAction: string; tag: string; channelId: string };
  };
};

export type BuiltPayload = ApnsPayload | FcmPayload;

export type SendOutcome =
  | { result: 'sent'; providerId?: string }
  /** 429/5xx/timeouts: the caller backs off (full jitter); retryAfterMs, when given, is a floor. */
  | { result: 'retry'; reason: string; retryAfterMs?: number }
  /** The token is dead: APNs 410 (when registered before its timestamp), BadDeviceToken; FCM UNREGISTERED, token-level INVALID_ARGUMENT. */
  | { result: 'invalid-token'; reason: string; unregisteredAt?: Date }
  /** Never retry: the message itself is wrong (400/403/413 other than the above). */
  | { result: 'rejected'; reason: string }
  /** The provider credential is refused: the caller pauses the tenant's lane. */
  | { result: 'credential-failure'; reason: string };

export type SendRequest = { target: PushTarget; payload: BuiltPayload };

export interface PushSender {
  /** One outcome per request, in order; never rejects for a provider's answer. */
  send(requests: SendRequest[]): Promise<SendOutcome[]>;
  /** Closes the connections; sends after close answer `retry` (`sender-closed`). */
  close(): Promise<void>;
}
