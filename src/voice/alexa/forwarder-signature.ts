import { createHmac, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import type { SeenOnce } from '../../fleet/seen-once.js';

/** Seconds a signed request stays valid, both ways (Amazon's own rule for skill requests is 150 s). */
export const WINDOW_SECONDS = 150;
export const HEADERS = { skill: 'x-gatehouse-skill', timestamp: 'x-gatehouse-timestamp', signature: 'x-gatehouse-signature' } as const;

/** What the Lambda forwarder signs: `v1=` + hex HMAC-SHA256(secret, "<unix seconds>.<raw body>") (deploy/alexa-lambda/index.mjs). */
export function sign(secret: string, timestamp: string, body: Buffer | string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * Checks a forwarded directive before a byte of it is parsed: a known skill,
 * a timestamp within ±WINDOW_SECONDS, the HMAC over timestamp and raw body
 * (constant-time), and no replay: a replayed request carries the same
 * signature (the body holds Alexa's messageId, the signature covers body and
 * time). Answers the skill id the forwarder named.
 */
export async function verifyForwarded(headers: Headers, body: Buffer, secrets: ReadonlyMap<string, string>, replays: SeenOnce, now = Date.now()): Promise<string> {
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
  if (!(await replays.admit(signature, now, (Number(timestamp) + WINDOW_SECONDS) * 1000 + 1000))) {
    throw new GatewayError('REQUEST_REPLAYED', 'This signed request was already received.');
  }
  return skill!;
}
