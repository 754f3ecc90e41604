import { createHash } from 'node:crypto';

/** Apple: "The value of this key must not exceed 64 bytes" (apns-collapse-id). */
export const MAX_COLLAPSE_ID_BYTES = 64;

/**
 * The collapse id of a notification: its id, or when longer than 64 bytes a
 * digest of it. Deterministic, so every copy of one notification collapses.
 */
export function collapseIdOf(notificationId: string): string {
  if (Buffer.byteLength(notificationId, 'utf8') <= MAX_COLLAPSE_ID_BYTES) return notificationId;
  return createHash('sha256').update(notificationId).digest('base64url');
}
