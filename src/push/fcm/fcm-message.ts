import type { TokenMessage } from 'firebase-admin/messaging';
import { collapseIdOf } from '../collapse-id.js';
import type { FcmPayload, PushTarget } from '../push-message.js';

/**
 * The firebase-admin message for one target. `collapseKey` is the
 * notification id: a second copy (a crash between FCM's 200 and our commit)
 * replaces the first on the phone instead of showing twice.
 */
export function firebaseMessageOf(target: PushTarget, payload: FcmPayload): TokenMessage {
  const android: NonNullable<TokenMessage['android']> = {
    collapseKey: collapseIdOf(target.notificationId),
    priority: payload.android.priority,
    ttl: payload.android.ttlMs,
  };
  if (payload.android.notification) android.notification = { ...payload.android.notification };
  const message: TokenMessage = { token: target.token, data: { ...payload.data }, android };
  if (payload.notification) message.notification = { ...payload.notification };
  return message;
}
