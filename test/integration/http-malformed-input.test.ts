import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import { createTenant } from '../../src/core/tenants.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';
import { ALEXA_VENDOR, authorizeUrl, pkcePair } from '../support/oauth.js';

type ErrorBody = { error: { code: string; message: string } };
type RawResponse = { status: number; headers: Record<string, string>; body: unknown };

const PASSWORD = 'correct horse battery';

/** Sends bytes as they are (fetch would refuse or re-encode them) and reads the answer up to the close. */
function rawRequest(port: number, head: string, body: Buffer = Buffer.alloc(0)): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [headText = '', bodyText = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: bodyText ? JSON.parse(bodyText) : null });
    });
  });
}

/** The documented error format, with a JSON content type. */
function expectError(response: { status: number; body: unknown; headers: Headers | Record<string, string> }, status: number, code: string, mentions?: RegExp) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  const type = response.headers instanceof Headers ? response.headers.get('content-type') : response.headers['content-type'];
  expect(type).toMatch(/^application\/json/);
  expect(response.body).toEqual({ error: { code, message: expect.any(String) } });
  if (mentions) expect((response.body as ErrorBody).error.message).toMatch(mentions);
}

describe('HTTP input that Postgres could not take is refused at the edge', () => {
  let t: TestGateway;
  let base: string;
  let port: number;
  let adminToken: string;
  let clientId: string;

  beforeAll(async () => {
    t = await startTestGateway();
    ({ base } = t);
    port = t.gateway.httpPort;
    const { core } = t.gateway;
    await createTenant(core.db, { slug: 'acme' });
    await core.auth.members.createPlatformAdmin('root@platform.test', PASSWORD);
    adminToken = (await call<{ access_token: string }>(base, 'POST', '/v1/auth/login', { body: { email: 'root@platform.test', password: PASSWORD } })).body.access_token;
    clientId = (await core.auth.oauth.clients.create({ platform: 'alexa', redirectUris: platformRedirectUris('alexa', ALEXA_VENDOR) })).clientId;
  });
  afterAll(() => t?.close());

  it('answers a login whose email or password holds U+0000 with 400, naming the field', async () => {
    expectError(await call(base, 'POST', '/v1/auth/login', { body: { email: 'root\u0000@platform.test', password: PASSWORD } }), 400, 'VALIDATION_FAILED', /body\/email.*U\+0000/);
    expectError(await call(base, 'POST', '/v1/auth/login', { body: { email: 'root@platform.test', password: `${PASSWORD}\u0000` } }), 400, 'VALIDATION_FAILED', /body\/password/);
    // The same login without the NUL works: nothing was locked or broken by the attempts.
    expect((await call(base, 'POST', '/v1/auth/login', { body: { email: 'root@platform.test', password: PASSWORD } })).status).toBe(200);
  });

  it('refuses a lone surrogate, bytes that are not UTF-8, and a NUL in a property name', async () => {
    expectError(await call(base, 'POST', '/v1/auth/login', { body: { email: 'a\uD800@b.test', password: PASSWORD } }), 400, 'VALIDATION_FAILED', /body\/email.*surrogate/);
    const invalidUtf8 = Buffer.concat([Buffer.from('{"email":"a'), Buffer.from([0xc3, 0x28]), Buffer.from(`@b.test","password":"${PASSWORD}"}`)]);
    const raw = await rawRequest(port, `POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${invalidUtf8.length}\r\nConnection: close\r\n\r\n`, invalidUtf8);
    expectError(raw, 400, 'VALIDATION_FAILED', /body\/email.*UTF-8/);
    expectError(await call(base, 'POST', '/v1/auth/login', { body: `{"email":"a@b.test","password":"${PASSWORD}","x\\u0000":1}` }), 400, 'VALIDATION_FAILED', /property name in body/);
  });

  it('answers the authorize page with U+0000 or invalid UTF-8 in its query with 400 in the error format', async () => {
    const { challenge } = pkcePair();
    const good = { response_type: 'code', client_id: clientId, redirect_uri: platformRedirectUris('alexa', ALEXA_VENDOR)[0], state: 's', code_challenge: challenge, code_challenge_method: 'S256' };
    expect((await fetch(authorizeUrl(base, good))).status).toBe(200);
    expectError(await call(base, 'GET', '/oauth/authorize?client_id=abc%00'), 400, 'VALIDATION_FAILED', /querystring\/client_id.*U\+0000/);
    expectError(await call(base, 'GET', '/oauth/authorize?client_id=abc%C3%28'), 400, 'BAD_REQUEST', /querystring\/client_id.*UTF-8/);
    expectError(await call(base, 'GET', `/oauth/authorize?state=%FF&client_id=${clientId}`), 400, 'BAD_REQUEST', /querystring\/state/);
  });

  it('answers the authorize form with U+0000 in the email with 400', async () => {
    const { challenge } = pkcePair();
    const form = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: platformRedirectUris('alexa', ALEXA_VENDOR)[0]!, code_challenge: challenge,
      code_challenge_method: 'S256', action: 'allow', email: 'root\u0000@platform.test', password: PASSWORD,
    });
    const response = await call(base, 'POST', '/oauth/authorize', { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectError(response, 400, 'VALIDATION_FAILED', /body\/email/);
  });

  it('answers tenant create with U+0000 with 400 and creates nothing', async () => {
    expectError(await call(base, 'POST', '/v1/tenants', { token: adminToken, body: { slug: 'nul-name', name: 'Nul\u0000Corp' } }), 400, 'VALIDATION_FAILED', /body\/name/);
    expectError(await call(base, 'POST', '/v1/tenants', { token: adminToken, body: { slug: 'nul\u0000slug' } }), 400, 'VALIDATION_FAILED', /body\/slug/);
    const tenants = await call<{ slug: string }[]>(base, 'GET', '/v1/tenants', { token: adminToken });
    expect(tenants.body.map((tenant) => tenant.slug)).not.toContain('nul-name');
    expect((await call(base, 'POST', '/v1/tenants', { token: adminToken, body: { slug: 'clean-name', name: 'Clean Corp' } })).status).toBe(201);
  });

  it('refuses bad path parameters, an over-long X-Active-Tenant and over-long strings', async () => {
    expectError(await call(base, 'GET', '/v1/devices/ab%FFc', { token: adminToken }), 400, 'BAD_REQUEST', /path/);
    expectError(await call(base, 'GET', '/v1/devices/ab%00c', { token: adminToken }), 400, 'VALIDATION_FAILED', /params\/name/);
    expectError(await call(base, 'GET', '/v1/me', { token: adminToken, headers: { 'x-active-tenant': 'a'.repeat(300) } }), 400, 'VALIDATION_FAILED', /headers\/x-active-tenant/);
    expectError(await call(base, 'POST', '/v1/tenants', { token: adminToken, body: { slug: 'long', name: 'x'.repeat(10_000) } }), 400, 'VALIDATION_FAILED', /body\/name.*8192/);
  });

  it('answers a data error from Postgres that slipped past the edge with 400, not 500', async () => {
    const { logins } = t.gateway.core.auth;
    const original = logins.verify.bind(logins);
    // What a value the edge did not know about would do: Postgres refuses it (SQLSTATE 22021).
    logins.verify = async () => {
      await t.gateway.core.db.platformQuery('SELECT $1::text AS value', ['a\u0000b']);
      throw new Error('unreachable');
    };
    try {
      expectError(await call(base, 'POST', '/v1/auth/login', { body: { email: 'root@platform.test', password: PASSWORD } }), 400, 'VALIDATION_FAILED', /SQLSTATE 22021/);
    } finally {
      logins.verify = original;
    }
  });
});

describe('requests too large to read answer in the error format', () => {
  let t: TestGateway;
  let port: number;

  beforeAll(async () => {
    t = await startTestGateway();
    port = t.gateway.httpPort;
  });
  afterAll(() => t?.close());

  it('answers a 100 KB URL with 414', async () => {
    expectError(await rawRequest(port, `GET /v1/devices?filter=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 414, 'BAD_REQUEST', /URL/);
  });

  it('answers a URL within node\'s head limit but over the API\'s with 414, and an over-long path segment too', async () => {
    expectError(await rawRequest(port, `GET /healthz?filter=${'a'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 414, 'BAD_REQUEST', /URL/);
    expectError(await rawRequest(port, `GET /v1/devices/${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), 414, 'BAD_REQUEST', /path/);
  });

  it('answers 20 KB of headers with 431', async () => {
    const headers = Array.from({ length: 20 }, (_, i) => `X-Filler-${i}: ${'b'.repeat(1000)}\r\n`).join('');
    expectError(await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${headers}\r\n`), 431, 'BAD_REQUEST', /headers/);
  });

  it('answers a request that is not HTTP with 400 in the error format', async () => {
    expectError(await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad\u0001Name: 1\r\n\r\n'), 400, 'BAD_REQUEST', /HTTP/);
  });
});
