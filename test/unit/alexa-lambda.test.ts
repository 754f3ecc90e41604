import { describe, expect, it } from 'vitest';
import { createHandler, sign } from '../../deploy/alexa-lambda/index.mjs';
import { MemorySeenOnce } from '../../src/fleet/seen-once.js';
import { verifyForwarded } from '../../src/voice/alexa/forwarder-signature.js';
import { hasCode } from '../../src/core/errors.js';
import { alexaMessageErrors } from '../support/alexa-schema.js';

const SECRET = 'a'.repeat(16) + 'b'.repeat(16) + 'c'.repeat(8);
const SKILL = 'amzn1.ask.skill.test-skill';
const ENV = { GATEHOUSE_URL: 'https://gateway.example.com', GATEHOUSE_SKILL_ID: SKILL, GATEHOUSE_SECRET: SECRET };
const NOW = 1_764_770_000_000;

/** PowerController.TurnOn exactly as Amazon documents it (sample_messages/PowerController). */
const TURN_ON = {
  directive: {
    header: { namespace: 'Alexa.PowerController', name: 'TurnOn', payloadVersion: '3', messageId: '1bd5d003-31b9-476f-ad03-71d471922820', correlationToken: 'dFMb0z+PgpgdDmluhJ1LddFvSqZ/jCc8ptlAKulUj90jSqg==' },
    endpoint: { scope: { type: 'BearerToken', token: 'access-token-from-skill' }, endpointId: 'appliance-001', cookie: {} },
    payload: {},
  },
};

type Sent = { url: string; headers: Record<string, string>; body: string };

function fakeFetch(answer: (sent: Sent) => Response | Promise<Response>, sent: Sent[] = []) {
  return async (url: string, init: { headers: Record<string, string>; body: string }) => {
    const request = { url, headers: init.headers, body: init.body };
    sent.push(request);
    return answer(request);
  };
}

describe('deploy/alexa-lambda: the Smart Home forwarder', () => {
  it('relays the directive unchanged, signed as the gateway checks it, and returns the gateway\'s answer', async () => {
    const sent: Sent[] = [];
    const answer = { event: { header: { namespace: 'Alexa', name: 'Response', payloadVersion: '3', messageId: 'x' }, payload: {} } };
    const handler = createHandler(ENV, fakeFetch(() => Response.json(answer), sent), () => NOW);
    expect(await handler(TURN_ON)).toEqual(answer);
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request!.url).toBe('https://gateway.example.com/voice/alexa/smart-home');
    expect(JSON.parse(request!.body)).toEqual(TURN_ON);
    expect(request!.headers['x-gatehouse-timestamp']).toBe(String(NOW / 1000));
    // The gateway's own check accepts exactly this request.
    await expect(verifyForwarded(request!.headers, Buffer.from(request!.body), new Map([[SKILL, SECRET]]), new MemorySeenOnce(), NOW)).resolves.toBe(SKILL);
  });

  it('answers ENDPOINT_UNREACHABLE (never a credential error) when the gateway cannot be reached or fails', async () => {
    for (const fetchImpl of [
      fakeFetch(() => Promise.reject(new TypeError('fetch failed'))),
      fakeFetch(() => new Response('{"error":{}}', { status: 503 })),
      fakeFetch(() => new Response('<html>bad gateway</html>', { status: 200 })),
    ]) {
      const answer = await createHandler(ENV, fetchImpl, () => NOW)(TURN_ON);
      expect(answer).toMatchObject({
        event: {
          header: { namespace: 'Alexa', name: 'ErrorResponse', payloadVersion: '3', correlationToken: TURN_ON.directive.header.correlationToken },
          endpoint: { endpointId: 'appliance-001' },
          payload: { type: 'ENDPOINT_UNREACHABLE' },
        },
      });
      expect(alexaMessageErrors(answer)).toBeUndefined();
    }
  });

  it('answers INTERNAL_ERROR when the gateway refuses the forwarder itself (4xx: secret, skill id or clock)', async () => {
    const answer = await createHandler(ENV, fakeFetch(() => new Response('{}', { status: 401 })), () => NOW)(TURN_ON);
    expect(answer).toMatchObject({ event: { payload: { type: 'INTERNAL_ERROR' } } });
    expect(alexaMessageErrors(answer)).toBeUndefined();
  });
});

describe('the gateway\'s check of a forwarded directive', () => {
  const secrets = new Map([[SKILL, SECRET]]);
  const body = Buffer.from(JSON.stringify(TURN_ON));
  const headers = (timestamp: number, signature = sign(SECRET, String(timestamp), body), skill = SKILL) =>
    ({ 'x-gatehouse-skill': skill, 'x-gatehouse-timestamp': String(timestamp), 'x-gatehouse-signature': signature });
  const code = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return 'accepted';
    } catch (error) {
      return hasCode(error, 'REQUEST_SIGNATURE_INVALID') || hasCode(error, 'REQUEST_STALE') || hasCode(error, 'REQUEST_REPLAYED') ? error.code : String(error);
    }
  };
  const t = NOW / 1000;

  it('refuses a wrong signature, an unknown skill, a missing header, and a body changed after signing', async () => {
    expect(await code(() => verifyForwarded(headers(t, sign('x'.repeat(40), String(t), body)), body, secrets, new MemorySeenOnce(), NOW))).toBe('REQUEST_SIGNATURE_INVALID');
    expect(await code(() => verifyForwarded(headers(t, undefined, 'amzn1.ask.skill.other'), body, secrets, new MemorySeenOnce(), NOW))).toBe('REQUEST_SIGNATURE_INVALID');
    expect(await code(() => verifyForwarded({}, body, secrets, new MemorySeenOnce(), NOW))).toBe('REQUEST_SIGNATURE_INVALID');
    expect(await code(() => verifyForwarded(headers(t), Buffer.from(`${body.toString()} `), secrets, new MemorySeenOnce(), NOW))).toBe('REQUEST_SIGNATURE_INVALID');
  });

  it('refuses a timestamp more than 150 s old or ahead, and accepts one at the edge', async () => {
    expect(await code(() => verifyForwarded(headers(t - 151), body, secrets, new MemorySeenOnce(), NOW))).toBe('REQUEST_STALE');
    expect(await code(() => verifyForwarded(headers(t + 151), body, secrets, new MemorySeenOnce(), NOW))).toBe('REQUEST_STALE');
    expect(await code(() => verifyForwarded(headers(t - 150), body, secrets, new MemorySeenOnce(), NOW))).toBe('accepted');
    expect(await code(() => verifyForwarded(headers(t + 150), body, secrets, new MemorySeenOnce(), NOW))).toBe('accepted');
  });

  it('refuses the same signed request twice within its window, and forgets it after', async () => {
    const replays = new MemorySeenOnce();
    expect(await code(() => verifyForwarded(headers(t), body, secrets, replays, NOW))).toBe('accepted');
    expect(await code(() => verifyForwarded(headers(t), body, secrets, replays, NOW + 100_000))).toBe('REQUEST_REPLAYED');
    // Past the window the timestamp itself refuses it; the cache may drop it.
    expect(await code(() => verifyForwarded(headers(t), body, secrets, replays, NOW + 160_000))).toBe('REQUEST_STALE');
  });
});
