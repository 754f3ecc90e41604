import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import { exitOf, freePort, gatewayEnv, runCli, spawnGateway, waitFor } from '../support/processes.js';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function onlyJsonObject(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  expect(lines, `stdout: ${stdout}`).toHaveLength(1);
  const value = JSON.parse(lines[0]!);
  expect(typeof value).toBe('object');
  return value;
}

describe('gatehouse start with embedded PostgreSQL, and the CLI beside it', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let gateway: ReturnType<typeof spawnGateway>;
  let base: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-e2e-'));
    // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
    await chmod(dataDir, 0o755);
    const httpPort = await freePort();
    env = gatewayEnv({ DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(await freePort()) });
    base = `http://127.0.0.1:${httpPort}`;
    gateway = spawnGateway(env);
    await waitFor(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 60_000, 'readyz');
  }, 90_000);

  afterAll(async () => {
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves /healthz and /readyz from the embedded server', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'ready' });
  });

  it('runs the CLI round trip against the running server, one JSON object per command', async () => {
    const postmaster = await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8');

    const tenant = await runCli(['tenant', 'create', 'acme', '--name', 'Acme Corp', '--json'], env);
    expect(tenant.code).toBe(0);
    expect(onlyJsonObject(tenant.stdout)).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), slug: 'acme' });

    const user = await runCli(['user', 'create', '--tenant', 'acme', '--email', 'ops@acme.test', '--password', 'correct horse battery', '--role', 'owner', '--json'], env);
    expect(user.code).toBe(0);
    expect(onlyJsonObject(user.stdout)).toEqual({ id: expect.any(String), email: 'ops@acme.test' });

    const device = await runCli(['device', 'create', '--tenant', 'acme', '--name', 'front-door', '--capability', 'unlock:pin', '--capability', 'status', '--json'], env);
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
  });

  it('stores secrets only as argon2id hashes', async () => {
    const out = await runCli(['device', 'create', '--tenant', 'acme', '--name', 'hash-check', '--json'], env);
    const { password } = onlyJsonObject(out.stdout) as { password: string };
    const postmaster = await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8');
    const port = Number(postmaster.split('\n')[3]);
    const credentials = JSON.parse(await readFile(path.join(dataDir, 'postgres-credentials.json'), 'utf8'));
    const { default: pg } = await import('pg');
    const client = new pg.Client({ host: '127.0.0.1', port, user: credentials.user, password: credentials.password, database: 'gatehouse' });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT secret_hash FROM devices WHERE name = 'hash-check'`);
      expect(rows[0].secret_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      expect(rows[0].secret_hash).not.toContain(password);
    } finally {
      await client.end();
    }
  });

  it('shuts down on SIGTERM with exit 0 within 10 s and stops PostgreSQL', async () => {
    const postmasterPid = Number((await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8')).split('\n')[0]);
    const started = Date.now();
    gateway.kill('SIGTERM');
    const exit = await exitOf(gateway);
    expect(exit, gateway.output()).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(pidAlive(postmasterPid)).toBe(false);
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
