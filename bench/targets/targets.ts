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
import { cpuSeconds, descendantsCpuSeconds } from './process-stats.js';
import { createLogger } from '../../src/logger.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');

export type Credential = { username?: string; password?: string };

/** A broker under test: where to connect, whose process to measure, how to log in. */
export type Target = {
  name: 'gatehouse' | 'gatehouse-cluster' | 'aedes' | 'mosquitto';
  url: string;
  /** Where the subscriber connects, if not to `url` (a cluster: another node than the publishers'). */
  subscriberUrl?: string;
  /** CPU seconds so far of the target's processes and of its database, if not `pid`'s and its descendants'. */
  cpu?(): { target: number; database: number };
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

type Node = { child: ChildProcess; httpPort: number; mqttPort: number; dataDir: string };

/** One `gatehouse start` process in a fresh data directory, ready (its /readyz answers 200). */
async function spawnNode(env: Record<string, string>, nodeArgs: string[] = []): Promise<Node> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-gw-'));
  await chmod(dataDir, 0o755);
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const nodeEnv = {
    ...process.env, DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), MQTTS_PORT: String(await freePort()),
    HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_FORMAT: 'json',
    MQTT_RATE_MESSAGES: '10000000', MQTT_RATE_BYTES: '10000000000', MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: '100000', MQTT_MAX_CONNECTIONS: '200000',
    DATABASE_URL: undefined, REDIS_URL: undefined, ...env,
  };
  const bin = path.join(ROOT, 'bin/gatehouse.js');
  const child = spawn(process.execPath, [...shebangFlags(bin), ...nodeArgs, bin, 'start'], { env: nodeEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  // The gateway's warnings and errors, for whoever wants to see why a run failed.
  if (process.env.BENCH_GATEWAY_LOG) {
    const { createWriteStream } = await import('node:fs');
    const sink = createWriteStream(`${process.env.BENCH_GATEWAY_LOG}.${mqttPort}`);
    child.stdout?.pipe(sink);
    child.stderr?.pipe(sink);
  } else {
    child.stdout?.resume();
  }
  const node = { child, httpPort, mqttPort, dataDir };
  try {
    await waitForReady(child, `http://127.0.0.1:${httpPort}/readyz`);
  } catch (error) {
    await stopNode(node);
    throw error;
  }
  return node;
}

async function stopNode(node: Node): Promise<void> {
  await stop(node.child);
  await rm(node.dataDir, { recursive: true, force: true });
}

/** What Gatehouse targets share: the seeded credentials, rows in Postgres, grouping of commits. */
function gatehouseTarget(db: Database, node: Node): Omit<Target, 'name' | 'close'> {
  return {
    url: `mqtt://127.0.0.1:${node.mqttPort}`, pid: node.child.pid!,
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
      const text = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return { commits: value('gatehouse_telemetry_batch_rows_count'), rows: value('gatehouse_telemetry_batch_rows_sum') };
    },
    async settle() {
      await db.platformQuery('CHECKPOINT', []);
    },
  };
}

/**
 * Gatehouse as an operator runs it (`gatehouse start`, embedded Postgres in a
 * fresh directory), provisioned with `devices` devices sharing one secret (one
 * argon2 hash for all: provisioning 10 000 devices one hash at a time would
 * take minutes; each still pays its own argon2 verification at first CONNECT).
 */
export async function startGatehouse(options: { devices: number; env?: Record<string, string>; nodeArgs?: string[] }): Promise<Target & { db: Database; connectionString: string; keyringFile: string; httpUrl: string }> {
  const node = await spawnNode(options.env ?? {}, options.nodeArgs);
  let database: OpenDatabase | undefined;
  let keyringFile = '';
  const teardown = async () => {
    await database?.close();
    await stopNode(node);
  };
  try {
    const config = loadConfig({ DATA_DIR: node.dataDir, LOG_LEVEL: 'warn' });
    keyringFile = config.push.keyringFile;
    database = await openDatabase(config, createLogger({ logLevel: 'warn', logFormat: 'json' }, 2), { adoptOrphan: false, migrate: false });
    await seed(database.db, options.devices);
  } catch (error) {
    // A gateway that started but cannot be used must not outlive the run (it holds its ports and its Postgres).
    await teardown();
    throw error;
  }
  const { db, connectionString } = database;
  return {
    name: 'gatehouse', ...gatehouseTarget(db, node), db, connectionString,
    /** The keyring the gateway sealed its push credentials with (made at its first start), for setting credentials beside it. */
    keyringFile,
    httpUrl: `http://127.0.0.1:${node.httpPort}`,
    close: teardown,
  };
}

/** A child process started with `args`, once it prints a line matching `ready`; `line` is that line. */
async function spawnReady(command: string, args: string[], ready: RegExp, what: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const line = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.split('\n').find((l) => ready.test(l));
      if (match !== undefined) resolve(match);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${output.slice(-2000)}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return { child, line };
}

/**
 * Several Gatehouse nodes on this machine as an operator runs a fleet: one
 * PostgreSQL server (the embedded one, started on its own and shared through
 * DATABASE_URL), one real redis-server (REDIS_URL), `nodes` gateway processes.
 * Publishers connect to the first node; the subscriber to the last
 * (`subscriberUrl`), so every delivery crosses Redis. CPU is the nodes'
 * (target) and Postgres's plus redis-server's (database).
 */
export async function startGatehouseCluster(options: { devices: number; nodes: number; nodeArgs?: string[] }): Promise<Target & { urls: string[] }> {
  const pgDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-pg-'));
  await chmod(pgDir, 0o755);
  const redisDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-redis-'));
  const children: ChildProcess[] = [];
  const nodes: Node[] = [];
  let database: OpenDatabase | undefined;
  const teardown = async () => {
    await database?.close();
    await Promise.all(nodes.map((node) => stopNode(node)));
    for (const child of children.reverse()) await stop(child);
    await rm(pgDir, { recursive: true, force: true });
    await rm(redisDir, { recursive: true, force: true });
  };
  try {
    const postgres = await spawnReady(process.execPath, [path.join(HERE, 'standalone-postgres.js'), pgDir], /^url /, 'PostgreSQL');
    children.push(postgres.child);
    const databaseUrl = postgres.line.slice(4).trim();
    const redisPort = await freePort();
    const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(redis);
    await waitForPort(redis, redisPort, 'redis-server');
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: `redis://127.0.0.1:${redisPort}` };
    // The first migrates the empty database; the others start together once it is seeded.
    nodes.push(await spawnNode(env, options.nodeArgs));
    database = await openDatabase(loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }), createLogger({ logLevel: 'warn', logFormat: 'json' }, 2), { adoptOrphan: false, migrate: false });
    await seed(database.db, options.devices);
    nodes.push(...(await Promise.all(Array.from({ length: options.nodes - 1 }, () => spawnNode(env, options.nodeArgs)))));
  } catch (error) {
    await teardown();
    throw error;
  }
  const urls = nodes.map((node) => `mqtt://127.0.0.1:${node.mqttPort}`);
  const [postgres, redis] = children as [ChildProcess, ChildProcess];
  return {
    ...gatehouseTarget(database.db, nodes[0]!), name: 'gatehouse-cluster', urls, subscriberUrl: urls.at(-1),
    cpu: () => ({
      target: nodes.reduce((sum, node) => sum + cpuSeconds(node.child.pid!), 0),
      database: cpuSeconds(postgres.pid!) + descendantsCpuSeconds(postgres.pid!) + cpuSeconds(redis.pid!),
    }),
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
