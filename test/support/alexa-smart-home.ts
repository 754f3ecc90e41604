import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import type { Core } from '../../src/core/create-core.js';
import { connect, subscribe } from './mqtt.js';
import { ALEXA_REDIRECT, ALEXA_VENDOR, pkcePair, tokenRequest } from './oauth.js';

export type AlexaEvent = {
  event: { header: Record<string, string>; endpoint?: { endpointId: string; scope?: { type: string; token: string } }; payload: Record<string, unknown> };
  context?: { properties: { namespace: string; name: string; value: unknown; instance?: string }[] };
};

/** Directives exactly as Amazon documents them (sample_messages/ in alexa-samples/alexa-smarthome). */
export function directive(namespace: string, name: string, token: string, endpointId: string | undefined, payload: Record<string, unknown> = {}, instance?: string) {
  const header = { namespace, name, payloadVersion: '3', messageId: randomUUID(), ...(endpointId ? { correlationToken: `ct-${randomUUID()}` } : {}), ...(instance ? { instance } : {}) };
  if (!endpointId) return { directive: { header, payload: { ...payload, scope: { type: 'BearerToken', token } } } };
  return { directive: { header, endpoint: { scope: { type: 'BearerToken', token }, endpointId, cookie: {} }, payload } };
}

/** Alexa.Authorization.AcceptGrant: the grant code, and the person's Gatehouse token as grantee. */
export function acceptGrant(token: string, code: string) {
  return {
    directive: {
      header: { namespace: 'Alexa.Authorization', name: 'AcceptGrant', payloadVersion: '3', messageId: randomUUID() },
      payload: { grant: { type: 'OAuth2.AuthorizationCode', code }, grantee: { type: 'BearerToken', token } },
    },
  };
}

/** Account linking as Alexa does it: /oauth/authorize with the person's password and PKCE, then the code for tokens. */
export async function linkAlexa(base: string, core: Core, email: string, password: string): Promise<string> {
  const client = await core.auth.oauth.clients.create({ platform: 'alexa', redirectUris: platformRedirectUris('alexa', ALEXA_VENDOR) });
  const { verifier, challenge } = pkcePair();
  const authorize = await fetch(`${base}/oauth/authorize`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ response_type: 'code', client_id: client.clientId, redirect_uri: ALEXA_REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256', email, password, action: 'allow' }).toString(),
  });
  expect(authorize.status).toBe(302);
  const code = new URL(authorize.headers.get('location')!).searchParams.get('code')!;
  const exchanged = await tokenRequest(base, { id: client.clientId, secret: client.clientSecret }, { grant_type: 'authorization_code', code, redirect_uri: ALEXA_REDIRECT, code_verifier: verifier });
  expect(exchanged.status).toBe(200);
  return exchanged.body.access_token as string;
}

/** A device that answers each command ok, after `delayMs`, and reports the state the command implies. */
export async function deviceOnline(
  url: string, name: string, credential: { username: string; password: string },
  state: (command: { name: string; params: Record<string, unknown> }) => Record<string, unknown>, delayMs = 0,
): Promise<MqttClient> {
  const client = await connect(url, { username: credential.username, password: credential.password });
  client.on('message', (topic, payload) => {
    const command = JSON.parse(payload.toString()) as { name: string; params: Record<string, unknown> };
    setTimeout(() => void client.publishAsync(`devices/${name}/state`, JSON.stringify(state(command)), { qos: 1, retain: true })
      .then(() => client.publishAsync(`${topic}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 }))
      .catch(() => undefined), delayMs); // closed at the end of the file while answering: nothing left to tell
  });
  expect(await subscribe(client, `devices/${name}/commands/+`, 1)).toEqual([1]);
  return client;
}
