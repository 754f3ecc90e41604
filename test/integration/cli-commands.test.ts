import type { MqttClient } from 'mqtt';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { access, chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { expectedMigrations } from '../../src/db/migrate.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { silentLog } from '../support/database.js';
import { pidAlive } from '../support/embedded-gateway.js';
import { call } from '../support/gateway.js';
import { connect, record, subscribe, until } from '../support/mqtt.js';
import { authorizeUrl, pkcePair } from '../support/oauth.js';
import { gatewayEnv, runCli, type CliResult } from '../support/processes.js';

const PASSWORD = 'correct horse battery';

/** The one JSON object a `--json` command prints, after checking that it succeeded. */
function answer(result: CliResult): Record<string, unknown> {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  const lines = result.stdout.trim().split('\n');
  expect(lines, result.stdout).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('gatehouse commands with no gateway running', () => {
  // A data directory no gateway ever runs on: every command starts the embedded server itself, and stops it.
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  /** Whether a PostgreSQL is running on the data directory (postmaster.pid names a live process). */
  async function serverRunning(): Promise<boolean> {
    const pid = Number((await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
    return pid > 0 && pidAlive(pid);
  }

  /** Reads the data directory's database with a server of the test's own, stopped again before the next command. */
  async function inspect<T>(read: (client: pg.Client) => Promise<T>): Promise<T> {
    expect(await serverRunning()).toBe(false);
    const server = await startEmbeddedPostgres(dataDir, silentLog, { adoptOrphan: false });
    try {
      const client = new pg.Client({ connectionString: server.connectionString });
      await client.connect();
      try {
        return await read(client);
      } finally {
        await client.end();
      }
    } finally {
      await server.stop();
    }
  }

  /** Runs a command and shows it left no server behind. */
  async function run(args: string[]): Promise<Record<string, unknown>> {
    const json = answer(await runCli([...args, '--json'], env));
    expect(await serverRunning(), `a PostgreSQL left running after gatehouse ${args.join(' ')}`).toBe(false);
    return json;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-cli-'));
    // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
    await chmod(dataDir, 0o755);
    env = gatewayEnv({ DATA_DIR: dataDir });
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('migrate starts the embedded PostgreSQL itself, applies every migration, and stops it again', async () => {
    expect(await run(['migrate'])).toEqual({ migrated: true });
    const applied = await inspect(async (client) => (await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name')).rows);
    expect(applied.map((row) => row.name)).toEqual(await expectedMigrations());
  });

  it('every kind of data command works on its own, each starting and stopping the server', async () => {
    const tenant = await run(['tenant', 'create', 'solo', '--name', 'Solo Ltd']);
    expect(tenant).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), slug: 'solo' });
    const user = await run(['user', 'create', '--tenant', 'solo', '--email', 'ops@solo.test', '--password', PASSWORD, '--role', 'owner']);
    expect(user).toEqual({ id: expect.any(String), email: 'ops@solo.test' });
    const device = await run(['device', 'create', '--tenant', 'solo', '--name', 'boiler', '--capability', 'lock:pin']);
    expect(device).toMatchObject({ name: 'boiler', username: 'boiler@solo', password: expect.stringMatching(/^gd_/) });
    const app = await run(['app', 'create', '--tenant', 'solo', '--name', 'panel']);
    expect(app).toMatchObject({ username: 'app:panel@solo', password: expect.stringMatching(/^ga_/) });
    const client = await run(['oauth-client', 'create', '--platform', 'alexa', '--vendor-id', 'M2SOLO']);
    expect(client).toMatchObject({ client_id: expect.stringMatching(/^alexa-/), platform: 'alexa' });
    const admin = await run(['admin', 'create', '--email', 'root@solo.test', '--password', PASSWORD]);
    expect(admin).toEqual({ id: expect.any(String), email: 'root@solo.test' });
    const { kid } = await run(['keys', 'rotate']);
    expect(kid).toEqual(expect.any(String));

    // Each wrote what it said, to the one database on the data directory.
    const stored = await inspect(async (db) => ({
      tenant: (await db.query('SELECT id, name FROM tenants WHERE slug = $1', ['solo'])).rows,
      member: (await db.query('SELECT role FROM memberships WHERE user_id = $1 AND tenant_id = $2', [user.id, tenant.id])).rows,
      device: (await db.query('SELECT name FROM devices WHERE id = $1', [device.id])).rows,
      app: (await db.query('SELECT username FROM app_credentials WHERE id = $1', [app.id])).rows,
      client: (await db.query('SELECT platform FROM oauth_clients WHERE client_id = $1', [client.client_id])).rows,
      admin: (await db.query('SELECT is_platform_admin FROM users WHERE id = $1', [admin.id])).rows,
      key: (await db.query('SELECT kid FROM signing_keys WHERE kid = $1', [kid])).rows,
    }));
    expect(stored).toEqual({
      tenant: [{ id: tenant.id, name: 'Solo Ltd' }],
      member: [{ role: 'owner' }],
      device: [{ name: 'boiler' }],
      app: [{ username: 'app:panel@solo' }],
      client: [{ platform: 'alexa' }],
      admin: [{ is_platform_admin: true }],
      key: [{ kid }],
    });
  }, 120_000);

  it('push credentials set seals the key in the data directory\'s keyring, and list shows only its fingerprint', async () => {
    await run(['tenant', 'create', 'pushy']);
    const keyFile = path.join(dataDir, 'AuthKey_ABCDE12345.p8');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(keyFile, pem);
    const saved = await run(['push', 'credentials', 'set', '--tenant', 'pushy', '--apns-key', keyFile, '--key-id', 'ABCDE12345', '--team-id', 'TEAM123456', '--topic', 'com.acme.app']);
    expect(saved).toMatchObject({ provider: 'apns', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/), settings: { keyId: 'ABCDE12345', teamId: 'TEAM123456', topic: 'com.acme.app' } });
    expect((await stat(path.join(dataDir, 'push-credentials.key'))).mode & 0o777).toBe(0o600);
    const listed = await run(['push', 'credentials', 'list', '--tenant', 'pushy']);
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(listed).toMatchObject({ credentials: [{ provider: 'apns', fingerprint: saved.fingerprint }] });
    const stored = await inspect(async (client) => (await client.query<{ sealed: Buffer }>('SELECT sealed FROM push_credentials')).rows);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.sealed.toString('latin1')).not.toContain('PRIVATE KEY');
    const refused = await runCli(['push', 'credentials', 'set', '--tenant', 'pushy', '--apns-key', keyFile, '--key-id', 'short', '--team-id', 'TEAM123456', '--topic', 'com.acme.app', '--json'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/keyId is 10 letters and digits/);
  });

  it('voice google credentials set seals the Home Graph service account (a tenant\'s, or the platform\'s), list shows only its fingerprint', async () => {
    await run(['tenant', 'create', 'homey']);
    const file = path.join(dataDir, 'home-graph-sa.json');
    const account = {
      type: 'service_account', project_id: 'homey-project', client_email: 'hg@homey-project.iam.gserviceaccount.com', private_key_id: 'k1',
      private_key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: 'https://oauth2.googleapis.com/token',
    };
    await writeFile(file, JSON.stringify(account));
    const saved = await run(['voice', 'google', 'credentials', 'set', '--tenant', 'homey', '--service-account', file]);
    expect(saved).toMatchObject({ provider: 'google', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/), settings: { projectId: 'homey-project', clientEmail: account.client_email } });
    await run(['voice', 'google', 'credentials', 'set', '--platform', '--service-account', file]);
    const listed = await run(['voice', 'google', 'credentials', 'list', '--tenant', 'homey']);
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(listed).toMatchObject({ credentials: [{ provider: 'google', fingerprint: saved.fingerprint }] });
    const stored = await inspect(async (client) => (await client.query<{ sealed: Buffer }>('SELECT sealed FROM voice_credentials')).rows);
    expect(stored).toHaveLength(2);
    expect(stored.every((row) => !row.sealed.toString('latin1').includes('PRIVATE KEY'))).toBe(true);
    await writeFile(file, JSON.stringify({ ...account, private_key: 'nope' }));
    const refused = await runCli(['voice', 'google', 'credentials', 'set', '--tenant', 'homey', '--service-account', file, '--json'], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout).toMatch(/Home Graph service account must be the JSON key file/);
  }, 120_000);

  it('certs dev writes a CA and a server certificate for localhost into --dir, without touching any database', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-certs-'));
    // A data directory that does not exist: a command that needs no data must not create one.
    const untouched = path.join(dir, 'no-data-here');
    try {
      const files = answer(await runCli(['certs', 'dev', '--dir', dir, '--json'], gatewayEnv({ DATA_DIR: untouched })));
      expect(files).toEqual({
        caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'),
        serverCert: path.join(dir, 'server.crt'), serverKey: path.join(dir, 'server.key'),
      });
      await expect(access(untouched)).rejects.toThrow();

      const [caPem, certPem, keyPem] = await Promise.all([readFile(path.join(dir, 'ca.crt'), 'utf8'), readFile(path.join(dir, 'server.crt'), 'utf8'), readFile(path.join(dir, 'server.key'), 'utf8')]);
      const [ca, cert] = [new X509Certificate(caPem), new X509Certificate(certPem)];
      expect(ca.ca).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');

      // A real TLS handshake: a client that trusts only ca.crt accepts the server certificate for "localhost".
      const server = tls.createServer({ cert: certPem, key: keyPem }, (socket) => socket.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const authorized = await new Promise<boolean>((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, servername: 'localhost', ca: caPem }, () => {
            resolve(socket.authorized);
            socket.end();
          });
          socket.once('error', reject);
        });
        expect(authorized).toBe(true);
      } finally {
        server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('gatehouse commands beside a running gateway (DATABASE_URL)', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let env: NodeJS.ProcessEnv;
  const open: MqttClient[] = [];

  beforeAll(async () => {
    gw = await startBrokerGateway();
    env = gatewayEnv({ DATABASE_URL: gw.gateway.databaseUrl });
    await gw.tenant('home');
    await gw.tenant('cabin');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  const login = (email: string, password: string, tenant: string) => call(gw.base, 'POST', '/v1/auth/login', { body: { email, password, tenant } });

  it('user create for an existing user adds the membership and keeps their password', async () => {
    const email = `keeps-${process.pid}@home.test`;
    const first = await gw.gateway.core.auth.members.add(await operatorContext(gw.gateway.core.db, 'home'), { email, password: PASSWORD, role: 'owner' });
    const again = answer(await runCli(['user', 'create', '--tenant', 'cabin', '--email', email, '--password', 'a different new password', '--role', 'member', '--json'], env));
    expect(again).toEqual({ id: first.id, email });

    const old = await login(email, PASSWORD, 'cabin');
    expect(old.status, JSON.stringify(old.body)).toBe(200);
    const me = await call(gw.base, 'GET', '/v1/me', { token: (old.body as { access_token: string }).access_token });
    expect(me.body).toMatchObject({ roles: ['member'] });
    expect((await login(email, 'a different new password', 'cabin')).status).toBe(401);
    expect((await login(email, 'a different new password', 'home')).status).toBe(401);
  });

  it('app create stores its --publish, --subscribe and --deny-subscribe filters, and the broker applies them, deny winning', async () => {
    const created = answer(await runCli([
      'app', 'create', '--tenant', 'home', '--name', 'watcher',
      '--publish', 'alerts/#', '--publish', 'devices/+/state',
      '--subscribe', 'devices/#', '--deny-subscribe', 'devices/+/telemetry',
      '--json',
    ], env));
    const [row] = await gw.gateway.core.db.platformQuery<Record<string, string[]>>(
      'SELECT publish_allow, subscribe_allow, publish_deny, subscribe_deny FROM app_credentials WHERE id = $1', [created.id]);
    expect(row).toEqual({ publish_allow: ['alerts/#', 'devices/+/state'], subscribe_allow: ['devices/#'], publish_deny: [], subscribe_deny: ['devices/+/telemetry'] });

    const watcher = await connect(gw.endpoints.tcp, { username: created.username as string, password: created.password as string });
    open.push(watcher);
    // Inside the allowed devices/#, a filter within the denied one is refused. (devices/# itself, which only
    // overlaps it, may be refused or granted with the denied topics withheld: either way they never arrive.)
    const granted = await subscribe(watcher, ['devices/+/state', 'devices/+/telemetry', 'devices/thermo/telemetry', 'devices/#']);
    expect(granted.slice(0, 3)).toEqual([0, 128, 128]);
    const seen = record(watcher);
    const thermoCredential = await gw.device('home', 'thermo');
    const thermo = await connect(gw.endpoints.tcp, { username: thermoCredential.username, password: thermoCredential.password });
    open.push(thermo);
    await thermo.publishAsync('devices/thermo/telemetry', '{"c":21}', { qos: 1 });
    await thermo.publishAsync('devices/thermo/state', '{"on":true}', { qos: 1 });
    await until(() => seen.some((m) => m.topic === 'devices/thermo/state'), 5_000, 'the state (sent after the telemetry)');
    expect(new Set(seen.map((m) => m.topic))).toEqual(new Set(['devices/thermo/state']));

    // Publishing: only the --publish filters. A listener with the default filters hears the allowed one, sent last, and nothing before it.
    const listenerCredential = await gw.app('home', 'listener');
    const listener = await connect(gw.endpoints.tcp, { username: listenerCredential.username, password: listenerCredential.password });
    open.push(listener);
    const heard = record(listener);
    await subscribe(listener, ['alerts/#', 'other/#'], 1);
    await watcher.publishAsync('other/thing', 'not allowed', { qos: 1 });
    await watcher.publishAsync('alerts/fire', 'marker', { qos: 1 });
    await until(() => heard.some((m) => m.topic === 'alerts/fire'), 5_000, 'the allowed alert');
    expect(heard.map((m) => m.topic)).toEqual(['alerts/fire']);
  });

  it('oauth-client create with --project-id, --redirect-uri and --name registers Google\'s redirect URIs, the extra one, and the name', async () => {
    const custom = 'https://console.example.test/oauth/callback';
    const created = answer(await runCli([
      'oauth-client', 'create', '--platform', 'google', '--project-id', 'home-action-42', '--redirect-uri', custom, '--name', 'Home Action', '--json',
    ], env));
    const redirectUris = [
      'https://oauth-redirect.googleusercontent.com/r/home-action-42',
      'https://oauth-redirect-sandbox.googleusercontent.com/r/home-action-42',
      custom,
    ];
    expect(created).toEqual({ client_id: expect.stringMatching(/^google-/), client_secret: expect.stringMatching(/^gs_/), platform: 'google', redirect_uris: redirectUris });
    const [row] = await gw.gateway.core.db.platformQuery<{ name: string; platform: string; redirect_uris: string[] }>(
      'SELECT name, platform, redirect_uris FROM oauth_clients WHERE client_id = $1', [created.client_id]);
    expect(row).toEqual({ name: 'Home Action', platform: 'google', redirect_uris: redirectUris });

    // The authorization endpoint serves its login page for each registered URI, and refuses another.
    const page = async (redirectUri: string) => (await fetch(authorizeUrl(gw.base, {
      response_type: 'code', client_id: created.client_id as string, redirect_uri: redirectUri, state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
    }), { redirect: 'manual' })).status;
    for (const uri of redirectUris) expect(await page(uri), uri).toBe(200);
    expect(await page('https://oauth-redirect.googleusercontent.com/r/someone-else')).toBe(400);
  });
});
