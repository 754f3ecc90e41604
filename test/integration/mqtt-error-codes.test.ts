import { readFileSync } from 'node:fs';
import net from 'node:net';
import { SignJWT, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { ConnectAuthenticator } from '../../src/broker/connect-authenticator.js';
import { hasCode, isGatewayError } from '../../src/core/errors.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { createEmptyDatabase } from '../support/database.js';
import { refusedWith } from '../support/mqtt.js';

/** docs/errors.md's MQTT column, for the codes it answers with a CONNACK: code → the MQTT 3.1.1 return code. */
function documentedConnacks(): Map<string, number> {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const connacks = new Map<string, number>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const code = /^`([A-Z_]+)`$/.exec(cells[1] ?? '')?.[1];
    const connack = /CONNACK (\d+)/.exec(cells[3] ?? '')?.[1];
    if (code && connack) connacks.set(code, Number(connack));
  }
  return connacks;
}

const DOCUMENTED = documentedConnacks();

/**
 * A TCP relay in front of PostgreSQL: down, it drops every connection it
 * holds and every new one, as a server that went away would.
 */
async function databaseRelay(target: URL) {
  let down = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    if (down) return inbound.destroy();
    const outbound = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined).on('close', () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    down() {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Each code that docs/errors.md answers with a CONNACK, driven to it through
 * the broker for real, over MQTT 3.1.1: the test checks both that the scenario
 * raised that code and that the CONNACK is the documented one. A code added to
 * the column without a scenario here, or a CONNACK that changes, turns it red.
 */
describe('docs/errors.md: the MQTT column, CONNACK by CONNACK', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let relay: Awaited<ReturnType<typeof databaseRelay>>;
  let devices = 0;
  /** What ConnectAuthenticator.authenticate threw, in order. */
  const raised: unknown[] = [];

  const password = 'correct horse battery';
  const freshDevice = () => gw.device('codes', `device-${++devices}`);
  const login = async (email: string, tenant?: string) => {
    const response = await fetch(`${gw.base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password, ...(tenant ? { tenant } : {}) }) });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  };
  const overWebSocket = (token: string, username = '') => refusedWith(gw.endpoints.ws, { username, password: token });

  /** Each scenario connects once and returns the CONNACK return code it got. */
  const scenarios: Record<string, () => Promise<number>> = {
    UNAUTHENTICATED: async () => refusedWith(gw.endpoints.tcp, { username: (await freshDevice()).username }),
    INVALID_CREDENTIALS: async () => refusedWith(gw.endpoints.tcp, { username: (await freshDevice()).username, password: 'gd_wrong' }),
    TOKEN_INVALID: () => overWebSocket('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'),
    TOKEN_EXPIRED: async () => {
      // A real token's claims, signed again by the gateway's own key, expired an hour ago.
      const { token } = await gw.user('codes', 'expired@codes.test', 'viewer');
      const now = Math.floor(Date.now() / 1000);
      const { kid, key } = gw.gateway.core.auth.keys.signingKey();
      const expired = await new SignJWT({ ...decodeJwt(token), iat: now - 7_200, nbf: now - 7_200, exp: now - 3_600 }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(key);
      return overWebSocket(expired);
    },
    TOKEN_REVOKED: async () => {
      const { token } = await gw.user('codes', 'revoked@codes.test', 'viewer');
      expect((await fetch(`${gw.base}/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(204);
      return overWebSocket(token);
    },
    ACCOUNT_SUSPENDED: async () => {
      const device = await freshDevice();
      await gw.gateway.core.devices.setStatus(await operatorContext(gw.gateway.core.db, 'codes'), `device-${devices}`, 'suspended');
      return refusedWith(gw.endpoints.tcp, { username: device.username, password: device.password });
    },
    TENANT_REQUIRED: async () => {
      // A platform administrator belongs to no tenant: a token acting in none.
      await gw.gateway.core.auth.members.createPlatformAdmin('root@codes.test', password);
      return overWebSocket(await login('root@codes.test'));
    },
    TENANT_FORBIDDEN: async () => {
      const { token } = await gw.user('codes', 'member@codes.test', 'member');
      return overWebSocket(token, 'elsewhere'); // the username names a tenant the token is no member of
    },
    DATABASE_UNAVAILABLE: async () => {
      const device = await freshDevice(); // never verified: its CONNECT must ask Postgres
      relay.down();
      try {
        return await refusedWith(gw.endpoints.tcp, { username: device.username, password: device.password });
      } finally {
        relay.up();
      }
    },
    RATE_LIMITED: async () => {
      // Wrong secrets for one username until it is locked: that CONNECT is refused before its secret is read.
      const device = await freshDevice();
      for (let attempt = 0; attempt < 30; attempt++) {
        const connack = await refusedWith(gw.endpoints.tcp, { username: device.username, password: 'gd_wrong' });
        if (hasCode(raised.at(-1), 'RATE_LIMITED')) return connack;
      }
      throw new Error('the username was never locked');
    },
    INTERNAL: async () => {
      const device = await freshDevice();
      vi.spyOn(gw.gateway.core.auth.credentials, 'verify').mockRejectedValueOnce(new TypeError('an unexpected failure'));
      return refusedWith(gw.endpoints.tcp, { username: device.username, password: device.password });
    },
  };

  beforeAll(async () => {
    relay = await databaseRelay(new URL(await createEmptyDatabase()));
    // No session cache: a revocation is seen at the next CONNECT rather than within AUTH_SESSION_CACHE_MS.
    gw = await startBrokerGateway({ DATABASE_URL: relay.url, AUTH_SESSION_CACHE_MS: '0' });
    await gw.tenant('codes');
    await gw.tenant('elsewhere');
    const authenticate = ConnectAuthenticator.prototype.authenticate;
    vi.spyOn(ConnectAuthenticator.prototype, 'authenticate').mockImplementation(async function (this: ConnectAuthenticator, ...args) {
      try {
        return await authenticate.apply(this, args);
      } catch (error) {
        raised.push(error);
        throw error;
      }
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    relay?.up();
    await gw?.close();
    await relay?.close();
  });

  it('has a scenario for every code the column answers with a CONNACK', () => {
    expect(DOCUMENTED.size).toBeGreaterThan(0);
    expect([...DOCUMENTED.keys()].sort()).toEqual(Object.keys(scenarios).sort());
  });

  it.each([...DOCUMENTED])('%s: CONNACK %i', async (code, documented) => {
    const scenario = scenarios[code];
    expect(scenario, `a scenario for ${code}`).toBeDefined();
    const before = raised.length;
    const connack = await scenario!();
    expect(raised.length).toBeGreaterThan(before);
    const error = raised.at(-1); // the scenario's last CONNECT: the one it returned the CONNACK of
    // An unexpected failure (not a GatewayError) is what INTERNAL names.
    expect(isGatewayError(error) ? error.code : 'INTERNAL', 'the code the CONNECT raised').toBe(code);
    expect(connack, `the CONNACK for ${code} (docs/errors.md says ${documented})`).toBe(documented);
  });
});
