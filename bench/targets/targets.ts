import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashSecret } from '../../src/auth/secrets.js';
import { loadConfig } from '../../src/config.js';
import { createTenant } from '../../src/core/tenants.js';
import type { Database } from '../../src/db/database.js';
import { openDatabase, type OpenDatabase } from '../../src/db/open.js';
import { freePort } from '../../src/free-port.js';
import { createLogger } from '../../src/logger.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');

export type Credential = { username?: string; password?: string };

/** A broker under test: where to connect, whose process to measure, how to log in. */
export type Target = {
  name: 'gatehouse' | 'aedes' | 'mosquitto';
  url: string;
  pid: number;
  /** Publisher n's credential and telemetry topic (n from 0). */
  device(n: number): Credential & { topic: string };
  /** A subscriber allowed to read every device's telemetry. */
  watcher: Credential;
  /** Rows in Postgres (Gatehouse only): what was really stored, all or one device's. */
  storedRows?(device?: string): Promise<number>;
  /** Telemetry commits so far and the rows they held (Gatehouse only, from its /metrics): how well acknowledged rows are grouped. */
  commits?(): Promise<{ commits: number; rows: number }>;
  /** A second tenant's device (Gatehouse only), for the overload scenario. */
  otherTenant?: Credential & { topic: string };
  /** Lets Postgres finish what earlier scenarios left it (a checkpoint), so a baseline is not measured against their aftermath. */
  settle?(): Promise<void>;
  close(): Promise<void>;
};

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${output.slice(-2000)}`)));
  });
}

async function waitForPort(child: ChildProcess, port: number, what: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      }).once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not open port ${port}`);
}

async function waitForReady(child: ChildProcess, url: string): Promise<void> {
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gatehouse exited (${child.exitCode ?? child.signalCode}): ${output}`);
    if ((await fetch(url).then((r) => r.status, () => 0)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gatehouse did not become ready: ${output}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export async function startAedes(): Promise<Target> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(HERE, 'bare-aedes.js'), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(child, /ready/, 'bare aedes');
  return {
    name: 'aedes', url: `mqtt://127.0.0.1:${port}`, pid: child.pid!,
    device: (n) => ({ topic: `devices/bench-${n}/telemetry` }), watcher: {},
    close: () => stop(child),
  };
}

export function mosquittoAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).status === 0;
}

export async function startMosquitto(): Promise<Target> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  // No limits that would make it drop what Gatehouse keeps; Nagle off, as on our side.
  // Errors and warnings only: per-message logging would measure the logger, not the broker.
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nmax_queued_messages 0\nmax_inflight_messages 0\npersistence false\nlog_type error\nlog_type warning\n`);
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForPort(child, port, 'mosquitto');
  return {
    name: 'mosquitto', url: `mqtt://127.0.0.1:${port}`, pid: child.pid!,
    device: (n) => ({ topic: `devices/bench-${n}/telemetry` }), watcher: {},
    async close() {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Gatehouse as an operator runs it (`gatehouse start`, embedded Postgres in a
 * fresh directory), provisioned with `devices` devices sharing one secret (one
 * argon2 hash for all: provisioning 10 000 devices one hash at a time would
 * take minutes; each still pays its own argon2 verification at first CONNECT).
 */
export async function startGatehouse(options: { devices: number; env?: Record<string, string>; nodeArgs?: string[] }): Promise<Target & { db: Database; keyringFile: string; httpUrl: string }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-gw-'));
  await chmod(dataDir, 0o755);
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env, DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), MQTTS_PORT: String(await freePort()),
    HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_FORMAT: 'json',
    MQTT_RATE_MESSAGES: '10000000', MQTT_RATE_BYTES: '10000000000', MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: '100000', MQTT_MAX_CONNECTIONS: '200000',
    ...options.env,
  };
  delete (env as Record<string, string | undefined>).DATABASE_URL;
  const bin = path.join(ROOT, 'bin/gatehouse.js');
  const child = spawn(process.execPath, [...shebangFlags(bin), ...(options.nodeArgs ?? []), bin, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // The gateway's warnings and errors, for whoever wants to see why a run failed.
  if (process.env.BENCH_GATEWAY_LOG) {
    const { createWriteStream } = await import('node:fs');
    const sink = createWriteStream(process.env.BENCH_GATEWAY_LOG);
    child.stdout?.pipe(sink);
    child.stderr?.pipe(sink);
  } else {
    child.stdout?.resume();
  }
  let database: OpenDatabase | undefined;
  let keyringFile = '';
  const teardown = async () => {
    await database?.close();
    await stop(child);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForReady(child, `http://127.0.0.1:${httpPort}/readyz`);
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    keyringFile = config.push.keyringFile;
    database = await openDatabase(config, createLogger({ logLevel: 'warn', logFormat: 'json' }, 2), { adoptOrphan: false, migrate: false });
    await seed(database.db, options.devices);
  } catch (error) {
    // A gateway that started but cannot be used must not outlive the run (it holds its ports and its Postgres).
    await teardown();
    throw error;
  }
  const { db } = database;
  return {
    name: 'gatehouse', url: `mqtt://127.0.0.1:${mqttPort}`, pid: child.pid!, db,
    /** The keyring the gateway sealed its push credentials with (made at its first start), for setting credentials beside it. */
    keyringFile,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    device: (n) => ({ username: `bench-${n}@bench`, password: PASSWORD, topic: `devices/bench-${n}/telemetry` }),
    watcher: { username: 'app:watcher@bench', password: PASSWORD },
    otherTenant: { username: 'quiet@other', password: PASSWORD, topic: 'devices/quiet/telemetry' },
    async storedRows(device?: string) {
      const [row] = device
        ? await db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry t JOIN devices d ON d.id = t.device_id WHERE d.name = $1', [device])
        : await db.platformQuery<{ n: string }>('SELECT count(*) AS n FROM telemetry', []);
      return Number(row!.n);
    },
    async commits() {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return { commits: value('gatehouse_telemetry_batch_rows_count'), rows: value('gatehouse_telemetry_batch_rows_sum') };
    },
    async settle() {
      await db.platformQuery('CHECKPOINT', []);
    },
    close: teardown,
  };
}

const PASSWORD = 'gd_bench-shared-secret-for-load-tests';

/** The bench tenant's devices and app credential, and the other tenant's quiet device, all with one password. */
async function seed(db: Database, devices: number): Promise<void> {
  const hash = await hashSecret(PASSWORD);
  const bench = await createTenant(db, { slug: 'bench' });
  const other = await createTenant(db, { slug: 'other' });
  await db.withPlatform(async (tx) => {
    await tx.query(
      `INSERT INTO devices (tenant_id, name, username, secret_hash)
       SELECT $1, 'bench-' || n, 'bench-' || n || '@bench', $2 FROM generate_series(0, $3 - 1) AS n`,
      [bench.id, hash, devices],
    );
    await tx.query(`INSERT INTO devices (tenant_id, name, username, secret_hash) VALUES ($1, 'quiet', 'quiet@other', $2)`, [other.id, hash]);
    await tx.query(`INSERT INTO app_credentials (tenant_id, name, username, secret_hash) VALUES ($1, 'watcher', 'app:watcher@bench', $2)`, [bench.id, hash]);
  });
}

/** The node flags an operator's `gatehouse` runs with: those on its `#!/usr/bin/env -S node …` line. */
function shebangFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0]!;
  return first.split(/\s+/).filter((word) => word.startsWith('--'));
}
