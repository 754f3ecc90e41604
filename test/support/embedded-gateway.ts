import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { exitOf, freePort, gatewayEnv, spawnGateway, waitFor } from './processes.js';

export type EmbeddedGateway = {
  dataDir: string;
  /** The environment it runs with: CLI commands given it talk to the same server. */
  env: NodeJS.ProcessEnv;
  base: string;
  mqttUrl: string;
  /** The running `gatehouse start` (replaced by `start()`). */
  process: ReturnType<typeof spawnGateway>;
  /** Starts it (again) on the same data, and waits until it is ready. */
  start(): Promise<void>;
  /** The pid of the PostgreSQL server on its data directory, from postmaster.pid. */
  postmasterPid(): Promise<number>;
  /** A query on its embedded PostgreSQL, as the superuser the gateway made. */
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  /** A connection of the test's own to its embedded PostgreSQL (to hold a transaction open); the caller ends it. */
  connect(): Promise<pg.Client>;
  /** Stops the gateway, then any PostgreSQL still on its data (a SIGKILLed gateway leaves its server behind), then removes the data. */
  close(): Promise<void>;
};

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `gatehouse start` as a child process with an embedded PostgreSQL in a fresh data directory, on free ports. */
export async function spawnEmbeddedGateway(overrides: Record<string, string> = {}): Promise<EmbeddedGateway> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-embedded-'));
  // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
  await chmod(dataDir, 0o755);
  const [httpPort, mqttPort, mqttsPort] = [await freePort(), await freePort(), await freePort()];
  const env = gatewayEnv({ DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), MQTTS_PORT: String(mqttsPort), ...overrides });
  const base = `http://127.0.0.1:${httpPort}`;

  const postmaster = async () => (await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8')).split('\n');
  const gateway: EmbeddedGateway = {
    dataDir, env, base,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    process: undefined as unknown as ReturnType<typeof spawnGateway>,
    async start() {
      gateway.process = spawnGateway(env);
      const child = gateway.process;
      await waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}: ${child.output()}`);
        return (await fetch(`${base}/readyz`)).status === 200 ? true : undefined;
      }, 60_000, 'readyz');
    },
    async postmasterPid() {
      return Number((await postmaster())[0]);
    },
    async connect() {
      const port = Number((await postmaster())[3]);
      const { user, password } = JSON.parse(await readFile(path.join(dataDir, 'postgres-credentials.json'), 'utf8')) as { user: string; password: string };
      const client = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'gatehouse' });
      await client.connect();
      return client;
    },
    async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []) {
      const client = await gateway.connect();
      try {
        return (await client.query<R>(text, params)).rows;
      } finally {
        await client.end();
      }
    },
    async close() {
      const child = gateway.process;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exitOf(child);
      }
      const pid = await gateway.postmasterPid().catch(() => undefined);
      if (pid && pidAlive(pid)) {
        process.kill(pid, 'SIGINT'); // PostgreSQL's fast shutdown: clients are disconnected, nothing is waited for
        await waitFor(async () => (pidAlive(pid) ? undefined : true), 30_000, `PostgreSQL (pid ${pid}) to stop`);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await gateway.start();
  } catch (error) {
    await gateway.close().catch(() => undefined);
    throw error;
  }
  return gateway;
}
