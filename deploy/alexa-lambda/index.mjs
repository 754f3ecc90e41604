// Gatehouse's Alexa Smart Home forwarder: Alexa sends Smart Home directives
// only to an AWS Lambda function, so this one relays each to Gatehouse over
// HTTPS, signed, and hands back Gatehouse's answer unchanged. No dependencies
// (Node.js 20+ runtime: fetch and node:crypto are built in).
//
// Environment:
//   GATEHOUSE_URL      https://gateway.example.com (the directive goes to /voice/alexa/smart-home)
//   GATEHOUSE_SKILL_ID this skill's id, as in Gatehouse's ALEXA_SMART_HOME_SECRETS
//   GATEHOUSE_SECRET   the skill's shared secret (at least 32 characters)
//   GATEHOUSE_TIMEOUT_MS how long to wait for Gatehouse (default 7000: Alexa gives the skill about 8 s)
import { createHmac, randomUUID } from 'node:crypto';

/** `v1=` + hex HMAC-SHA256(secret, "<unix seconds>.<body>"): what Gatehouse checks before reading the directive. */
export function sign(secret, timestamp, body) {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * An Alexa.ErrorResponse for a directive Gatehouse did not answer. A transport
 * failure is ENDPOINT_UNREACHABLE, never INVALID_AUTHORIZATION_CREDENTIAL
 * (Alexa would unlink the user for an outage).
 */
export function errorResponse(directive, type, message) {
  const header = directive?.header ?? {};
  const endpointId = directive?.endpoint?.endpointId;
  return {
    event: {
      header: {
        namespace: 'Alexa', name: 'ErrorResponse', payloadVersion: '3', messageId: randomUUID(),
        ...(header.correlationToken ? { correlationToken: header.correlationToken } : {}),
      },
      ...(endpointId ? { endpoint: { endpointId } } : {}),
      payload: { type, message },
    },
  };
}

export function createHandler(env = process.env, fetchImpl = globalThis.fetch, now = () => Date.now()) {
  const url = new URL('/voice/alexa/smart-home', env.GATEHOUSE_URL).toString();
  const timeoutMs = Number(env.GATEHOUSE_TIMEOUT_MS ?? 7000);
  return async function handler(event) {
    const body = JSON.stringify(event);
    const timestamp = String(Math.floor(now() / 1000));
    let response;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gatehouse-skill': env.GATEHOUSE_SKILL_ID,
          'x-gatehouse-timestamp': timestamp,
          'x-gatehouse-signature': sign(env.GATEHOUSE_SECRET, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      console.error('Gatehouse unreachable:', error?.name, error?.message);
      return errorResponse(event?.directive, 'ENDPOINT_UNREACHABLE', 'Gatehouse cannot be reached.');
    }
    if (response.status !== 200) {
      // 5xx: Gatehouse is down or overloaded; 4xx: this forwarder is misconfigured (secret, skill id, clock).
      console.error('Gatehouse answered', response.status, await response.text().catch(() => ''));
      const type = response.status >= 500 ? 'ENDPOINT_UNREACHABLE' : 'INTERNAL_ERROR';
      return errorResponse(event?.directive, type, `Gatehouse answered ${response.status}.`);
    }
    try {
      return await response.json();
    } catch {
      return errorResponse(event?.directive, 'ENDPOINT_UNREACHABLE', 'Gatehouse answered something that is not JSON.');
    }
  };
}

export const handler = (event) => createHandler()(event);
