import type { Event } from './messages.js';

/** What the event gateway's answer means for the sender (https://developer.amazon.com/docs/smarthome/send-events-to-the-alexa-event-gateway.html). */
export type GatewayOutcome = 'accepted' | 'token-invalid' | 'skill-disabled' | 'retry' | 'rejected';

const TIMEOUT_MS = 10_000;

/** The gateway's error answers, by the code in `payload.code`; a status alone decides the rest. */
function outcomeOf(status: number, code: string | undefined): GatewayOutcome {
  if (status === 202 || (status >= 200 && status < 300)) return 'accepted';
  if (code === 'INVALID_ACCESS_TOKEN_EXCEPTION' || status === 401) return 'token-invalid';
  // The person disabled the skill: the grant is dead (the skill's other users are not affected).
  if (code === 'SKILL_DISABLED_EXCEPTION') return 'skill-disabled';
  if (status === 429 || status >= 500) return 'retry';
  // INVALID_REQUEST_EXCEPTION, SKILL_NOT_FOUND_EXCEPTION, INSUFFICIENT_PERMISSION_EXCEPTION, 413: sending it again changes nothing.
  return 'rejected';
}

/** POSTs one event with the grant's LWA access token; a network failure is 'retry'. */
export async function postEvent(url: string, accessToken: string, event: Event): Promise<{ outcome: GatewayOutcome; status: number; code?: string }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return { outcome: 'retry', status: 0 };
  }
  const body = (await response.json().catch(() => undefined)) as { payload?: { code?: unknown } } | undefined;
  const code = typeof body?.payload?.code === 'string' ? body.payload.code : undefined;
  return { outcome: outcomeOf(response.status, code), status: response.status, ...(code ? { code } : {}) };
}
