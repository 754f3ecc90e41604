import { createHmac, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';

/** Seconds a signed request stays valid, both ways (Amazon's own rule for skill requests is 150 s). */
export const WINDOW_SECONDS = 150;
export const HEADERS = { skill: 'x-gatehouse-skill', timestamp: 'x-gatehouse-timestamp', signature: 'x-gatehouse-signature' } as const;

/** What the Lambda forwarder signs: `v1=` + hex HMAC-SHA256(secret, "<unix seconds>.<raw body>") (deploy/alexa-lambda/index.mjs). */
export function sign(secret: string, timestamp: string, body: Buffer | string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Signatures seen within the window: a replayed request carries the same one
 * (the body holds Alexa's messageId, the signature covers body and time).
 * Per node: behind several nodes a replay sent to another node within 150 s
 * still reaches the idempotency key (the messageId), so it acts once.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  /** False when `signature` was already seen before `expiresAt`; records it otherwise. */
  admit(signature: string, now: number, expiresAt: number): boolean {
    for (const [key, until] of this.seen) {
      // Insertion order is roughly expiry order: stop at the first live one.
      if (until > now && this.seen.size < this.max) break;
      this.seen.delete(key);
    }
    if ((this.seen.get(signature) ?? 0) > now) return false;
    this.seen.set(signature, expiresAt);
    return true;
  }
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * Checks a forwarded directive before a byte of it is parsed: a known skill,
 * a timestamp within ±WINDOW_SECONDS, the HMAC over timestamp and raw body
 * (constant-time), and no replay.
 */
/** Answers the skill id the forwarder named, once everything checked out. */
export function verifyForwarded(headers: Headers, body: Buffer, secrets: ReadonlyMap<string, string>, replays: ReplayCache, now = Date.now()): string {
  const one = (name: string) => (typeof headers[name] === 'string' ? headers[name] : undefined);
  const skill = one(HEADERS.skill);
  const timestamp = one(HEADERS.timestamp);
  const signature = one(HEADERS.signature);
  const secret = skill === undefined ? undefined : secrets.get(skill);
  if (!secret || !timestamp || !signature) throw new GatewayError('REQUEST_SIGNATURE_INVALID', 'The request is not signed by a known skill\'s forwarder.');
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > WINDOW_SECONDS) {
    throw new GatewayError('REQUEST_STALE', `The request's timestamp is more than ${WINDOW_SECONDS} s away from the gateway's clock.`);
  }
  const expected = Buffer.from(sign(secret, timestamp, body));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new GatewayError('REQUEST_SIGNATURE_INVALID', 'The request\'s signature does not match its body.');
  if (!replays.admit(signature, now, (Number(timestamp) + WINDOW_SECONDS) * 1000 + 1000)) {
    throw new GatewayError('REQUEST_REPLAYED', 'This signed request was already received.');
  }
  return skill!;
}
