import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One grant as Login with Amazon knows it: whose, its refresh token, its live access token. */
type Grant = { id: string; refreshToken: string; accessToken: string; accessExpiresAt: number; disabled: boolean };
export type GatewayEvent = { grantId: string | undefined; token: string; body: Record<string, unknown>; status: number; code?: string };

const token = (prefix: string) => `${prefix}|${randomBytes(12).toString('hex')}`;

/**
 * Amazon as a skill meets it, on one local HTTP server:
 * - Login with Amazon's token endpoint, `POST /auth/o2/token` (form body, client
 *   id and secret in it): `authorization_code` for a code the test issued
 *   (once), `refresh_token` (rotated), `invalid_client` / `invalid_grant` as
 *   Amazon answers them; access tokens expire after `expiresIn` seconds.
 * - The event gateway, `POST /v3/events`: a live access token as bearer (else
 *   401 INVALID_ACCESS_TOKEN_EXCEPTION), 403 SKILL_DISABLED_EXCEPTION for a
 *   grant the person disabled, else 202; every request is recorded.
 * https://developer.amazon.com/docs/login-with-amazon/authorization-code-grant.html,
 * https://developer.amazon.com/docs/smarthome/send-events-to-the-alexa-event-gateway.html
 */
export async function startFakeAmazon(client: { clientId: string; clientSecret: string }) {
  const codes = new Map<string, string>();
  const grants = new Map<string, Grant>();
  const events: GatewayEvent[] = [];
  const tokenRequests: { grantType: string; grantId?: string }[] = [];
  let expiresIn = 3600;
  const byAccess = (access: string) => [...grants.values()].find((g) => g.accessToken === access && g.accessExpiresAt > Date.now());

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const lwa = (form: URLSearchParams, res: http.ServerResponse) => {
    if (form.get('client_id') !== client.clientId || form.get('client_secret') !== client.clientSecret) {
      return json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    const grantType = form.get('grant_type') ?? '';
    let grant: Grant | undefined;
    if (grantType === 'authorization_code') {
      const id = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      if (id) grants.set(id, grant = { id, refreshToken: '', accessToken: '', accessExpiresAt: 0, disabled: false });
    } else if (grantType === 'refresh_token') {
      grant = [...grants.values()].find((g) => g.refreshToken === form.get('refresh_token'));
    } else {
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    tokenRequests.push({ grantType, grantId: grant?.id });
    if (!grant) return json(res, 400, { error: 'invalid_grant', error_description: 'The code or refresh token is invalid' });
    Object.assign(grant, { accessToken: token('Atza'), refreshToken: token('Atzr'), accessExpiresAt: Date.now() + expiresIn * 1000 });
    return json(res, 200, { access_token: grant.accessToken, refresh_token: grant.refreshToken, token_type: 'bearer', expires_in: expiresIn });
  };
  const gateway = (req: http.IncomingMessage, text: string, res: http.ServerResponse) => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const grant = byAccess(bearer);
    const [status, code] = !grant ? [401, 'INVALID_ACCESS_TOKEN_EXCEPTION'] : grant.disabled ? [403, 'SKILL_DISABLED_EXCEPTION'] : [202, undefined];
    events.push({ grantId: grant?.id, token: bearer, body: JSON.parse(text) as Record<string, unknown>, status, ...(code ? { code } : {}) });
    if (status === 202) return void res.writeHead(202).end();
    return json(res, status, { header: { namespace: 'System', name: 'Exception', messageId: token('m') }, payload: { code, description: code } });
  };

  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => {
      if (req.method === 'POST' && req.url === '/auth/o2/token') return lwa(new URLSearchParams(text), res);
      if (req.method === 'POST' && req.url === '/v3/events') return gateway(req, text, res);
      return json(res, 404, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    tokenUrl: `${base}/auth/o2/token`,
    gatewayUrl: `${base}/v3/events`,
    events,
    tokenRequests,
    /** A grant code for the person `grantId` names (what Alexa puts in AcceptGrant). */
    issueCode(grantId: string): string {
      const code = token('ANcode');
      codes.set(code, grantId);
      return code;
    },
    grant: (grantId: string) => grants.get(grantId),
    /** Lifetime of the access tokens issued from now on, in seconds. */
    setExpiresIn(seconds: number) {
      expiresIn = seconds;
    },
    /** The grant's access token dies now (as if its hour were up): the gateway answers 401 until it is refreshed. */
    expireAccess(grantId: string) {
      grants.get(grantId)!.accessExpiresAt = 0;
    },
    /** The person disabled the skill: the gateway answers 403 SKILL_DISABLED_EXCEPTION. */
    disable(grantId: string) {
      grants.get(grantId)!.disabled = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
