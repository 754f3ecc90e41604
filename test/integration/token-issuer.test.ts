import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { createTenant } from '../../src/core/tenants.js';
import { call, startTestGateway, type TestGateway } from '../support/gateway.js';

const PASSWORD = 'correct horse battery';

/** A gateway with one user; `login` answers an access token of theirs. */
async function gatewayWithUser(env: Record<string, string>): Promise<TestGateway & { login(): Promise<string> }> {
  const t = await startTestGateway(env);
  await createTenant(t.gateway.core.db, { slug: 'acme' });
  await t.gateway.core.auth.members.add(await operatorContext(t.gateway.core.db, 'acme'), { email: 'ops@acme.test', password: PASSWORD, role: 'owner' });
  return Object.assign(t, {
    async login() {
      const response = await call<{ access_token: string }>(t.base, 'POST', '/v1/auth/login', { body: { email: 'ops@acme.test', password: PASSWORD } });
      expect(response.status).toBe(200);
      return response.body.access_token;
    },
  });
}

/** What a third party does: fetch the JWKS and verify the token against the issuer it expects. */
async function verifiedIssuer(t: TestGateway, token: string, issuer: string): Promise<string | undefined> {
  const jwks = createRemoteJWKSet(new URL(`${t.base}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(token, jwks, { issuer, audience: 'gatehouse', algorithms: ['ES256'] });
  return payload.iss;
}

describe('the token issuer, without PUBLIC_URL and with HTTP_PORT=0', () => {
  let t: Awaited<ReturnType<typeof gatewayWithUser>>;
  beforeAll(async () => {
    t = await gatewayWithUser({ HTTP_PORT: '0' });
  });
  afterAll(() => t?.close());

  it('is http://localhost:<the port actually listened on>, and the JWKS verifies the token with it', async () => {
    const issuer = `http://localhost:${t.gateway.httpPort}`;
    expect(t.gateway.httpPort).toBeGreaterThan(0);
    expect(t.gateway.publicUrl).toBe(issuer);
    expect(await verifiedIssuer(t, await t.login(), issuer)).toBe(issuer);
    await expect(verifiedIssuer(t, await t.login(), 'http://localhost:0')).rejects.toThrow(/iss/);
  });

  it('is the server the OpenAPI document names', async () => {
    const spec = await call<{ servers: { url: string }[] }>(t.base, 'GET', '/docs/json');
    expect(spec.body.servers).toEqual([{ url: `http://localhost:${t.gateway.httpPort}` }]);
  });
});

describe('the token issuer with PUBLIC_URL', () => {
  let t: Awaited<ReturnType<typeof gatewayWithUser>>;
  beforeAll(async () => {
    t = await gatewayWithUser({ HTTP_PORT: '0', PUBLIC_URL: 'https://gateway.example.com/' });
  });
  afterAll(() => t?.close());

  it('is PUBLIC_URL (without its trailing slash), whatever port is listened on, and the JWKS verifies the token with it', async () => {
    expect(t.gateway.publicUrl).toBe('https://gateway.example.com');
    expect(await verifiedIssuer(t, await t.login(), 'https://gateway.example.com')).toBe('https://gateway.example.com');
    const spec = await call<{ servers: { url: string }[] }>(t.base, 'GET', '/docs/json');
    expect(spec.body.servers).toEqual([{ url: 'https://gateway.example.com' }]);
  });
});
