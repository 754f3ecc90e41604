import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import { pidAlive, spawnEmbeddedGateway, type EmbeddedGateway } from '../support/embedded-gateway.js';
import { exitOf, gatewayEnv, runCli, waitFor } from '../support/processes.js';

function onlyJsonObject(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  expect(lines, `stdout: ${stdout}`).toHaveLength(1);
  const value = JSON.parse(lines[0]!);
  expect(typeof value).toBe('object');
  return value;
}

describe('gatehouse start with embedded PostgreSQL, and the CLI beside it', () => {
  let gw: EmbeddedGateway;

  beforeAll(async () => {
    gw = await spawnEmbeddedGateway();
  }, 90_000);
  afterAll(() => gw?.close(), 60_000);

  it('serves /healthz and /readyz from the embedded server', async () => {
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${gw.base}/readyz`)).json()).toMatchObject({ status: 'ready' });
  });

  it('runs the CLI round trip against the running server, one JSON object per command', async () => {
    const { env, base, dataDir } = gw;
    const postmaster = await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8');
    const tenant = await runCli(['tenant', 'create', 'acme', '--name', 'Acme Corp', '--json'], env);
    expect(tenant.code).toBe(0);
    expect(onlyJsonObject(tenant.stdout)).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), slug: 'acme' });

    const user = await runCli(['user', 'create', '--tenant', 'acme', '--email', 'ops@acme.test', '--password', 'correct horse battery', '--role', 'owner', '--json'], env);
    expect(user.code).toBe(0);
    expect(onlyJsonObject(user.stdout)).toEqual({ id: expect.any(String), email: 'ops@acme.test' });

    const device = await runCli(['device', 'create', '--tenant', 'acme', '--name', 'front-door', '--type', 'lock', '--capability', 'lock:pin', '--capability', 'battery', '--json'], env);
    expect(device.code).toBe(0);
    const deviceJson = onlyJsonObject(device.stdout);
    expect(deviceJson).toEqual({ id: expect.any(String), name: 'front-door', username: 'front-door@acme', password: expect.stringMatching(/^gd_[A-Za-z0-9_-]{32}$/) });

    const app = await runCli(['app', 'create', '--tenant', 'acme', '--name', 'dashboard', '--subscribe', 'devices/+/telemetry', '--deny-publish', '#', '--json'], env);
    expect(app.code).toBe(0);
    expect(onlyJsonObject(app.stdout)).toEqual({ id: expect.any(String), username: 'app:dashboard@acme', password: expect.stringMatching(/^ga_/) });

    const client = await runCli(['oauth-client', 'create', '--platform', 'alexa', '--vendor-id', 'M2VENDOR', '--json'], env);
    expect(client.code).toBe(0);
    expect(onlyJsonObject(client.stdout)).toEqual({
      client_id: expect.stringMatching(/^alexa-/), client_secret: expect.stringMatching(/^gs_/), platform: 'alexa',
      redirect_uris: ['https://pitangui.amazon.com/api/skill/link/M2VENDOR', 'https://layla.amazon.com/api/skill/link/M2VENDOR', 'https://alexa.amazon.co.jp/api/skill/link/M2VENDOR'],
    });

    const admin = await runCli(['admin', 'create', '--email', 'root@platform.test', '--password', 'a long passphrase', '--json'], env);
    expect(admin.code).toBe(0);
    expect(onlyJsonObject(admin.stdout)).toEqual({ id: expect.any(String), email: 'root@platform.test' });

    const kidBefore = ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
    const rotated = await runCli(['keys', 'rotate', '--json'], env);
    expect(rotated.code).toBe(0);
    const { kid } = onlyJsonObject(rotated.stdout) as { kid: string };
    // The running gateway learns of the new key (from Postgres) and publishes old and new together.
    const jwks = await waitFor(async () => {
      const keys = ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
      return keys.includes(kid) ? keys : undefined;
    }, 10_000, 'rotated key in the JWKS');
    expect(jwks).toEqual(expect.arrayContaining([...kidBefore, kid]));

    const again = await runCli(['tenant', 'create', 'acme', '--json'], env);
    expect(again.code).not.toBe(0);
    expect(onlyJsonObject(again.stdout)).toEqual({ error: { code: 'CONFLICT', message: 'A tenant with slug "acme" already exists.' } });
    expect(again.stderr).toContain('already exists');
    expect(again.stderr).not.toMatch(/\n\s+at /);

    // The CLI used the gateway's server rather than starting a second one on the same data.
    expect(await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8')).toBe(postmaster);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  }, 120_000); // eight CLI processes in turn, each starting Node.js and opening the database

  it('stores secrets only as argon2id hashes', async () => {
    expect((await runCli(['tenant', 'create', 'vault', '--json'], gw.env)).code).toBe(0);
    const out = await runCli(['device', 'create', '--tenant', 'vault', '--name', 'hash-check', '--json'], gw.env);
    const { password } = onlyJsonObject(out.stdout) as { password: string };
    const [row] = await gw.query<{ secret_hash: string }>(`SELECT secret_hash FROM devices WHERE name = 'hash-check'`);
    // A generated 192-bit device secret is hashed at argon2id's light settings (src/auth/secrets.ts); passwords at the heavy ones.
    expect(row!.secret_hash).toMatch(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    expect(row!.secret_hash).not.toContain(password);
  });
});

describe('shutting down', () => {
  // Its own gateway: the test ends it, and no other test may depend on the order.
  let gw: EmbeddedGateway;

  beforeAll(async () => {
    gw = await spawnEmbeddedGateway();
  }, 90_000);
  afterAll(() => gw?.close(), 60_000);

  // No clock here: past SHUTDOWN_TIMEOUT_MS the process exits 1, so exit 0 says the graceful close finished in time.
  it('on SIGTERM exits 0 and stops its PostgreSQL before it goes', async () => {
    const postmasterPid = await gw.postmasterPid();
    expect(pidAlive(postmasterPid)).toBe(true);
    gw.process.kill('SIGTERM');
    const exit = await exitOf(gw.process);
    expect(exit, gw.process.output()).toEqual({ code: 0, signal: null });
    expect(pidAlive(postmasterPid)).toBe(false);
    expect(gw.process.output()).toContain('gatehouse stopped');
  });
});

describe('bad configuration fails fast with a message naming the problem', () => {
  it('a malformed DATABASE_URL', async () => {
    const result = await runCli(['start'], gatewayEnv({ DATABASE_URL: 'not a url' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DATABASE_URL: must be a URL like postgres://');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('a port in use', async () => {
    const blocker = net.createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const result = await runCli(['start'], gatewayEnv({ DATABASE_URL: await createEmptyDatabase(), HTTP_PORT: String(port) }));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`HTTP_PORT ${port} is already in use`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });

  it('an unknown command', async () => {
    const result = await runCli(['tenant', 'delete', 'x', '--json'], gatewayEnv({}));
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error.code).toBe('USAGE');
  });
});
