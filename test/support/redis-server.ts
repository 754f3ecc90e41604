import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe } from 'vitest';
import { exitOf, freePort } from './processes.js';

/** Debian's redis-server (`apt-get install redis-server`; .ci/run installs it), or REDIS_SERVER_PATH. */
const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';

export type RedisServer = {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Stops it (SIGTERM) and waits for the exit; the port stays this server's for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after `stop()`): an outage and a recovery. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
};

/** Why no real redis-server can run here, or undefined when one can. */
export function redisServerMissing(): string | undefined {
  try {
    accessSync(REDIS_SERVER, constants.X_OK);
    return undefined;
  } catch {
    return `redis-server not found at ${REDIS_SERVER}: apt-get install redis-server (or set REDIS_SERVER_PATH)`;
  }
}

/**
 * A describe block that needs a real redis-server. Without one it is skipped,
 * the reason in its name so the report says why; under CI=true a missing server
 * is a failure instead, as a missing Chromium or Postgres is, so CI never passes
 * by skipping the scale-out tests.
 */
export function describeWithRedis(name: string, body: () => void): void {
  const missing = redisServerMissing();
  if (!missing) describe(name, body);
  else if (process.env.CI === 'true') {
    describe(name, () => {
      throw new Error(`${missing} (CI=true: required)`);
    });
  } else describe.skip(`${name} [skipped: ${missing}]`, body);
}

/**
 * A real redis-server for one test file: on a free random port on loopback,
 * with no RDB or AOF file (its directory is a fresh temporary one, removed
 * after), so nothing of one run reaches the next.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const missing = redisServerMissing();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-test-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const spawned = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = spawned;
    let output = '';
    spawned.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntilServing(port, spawned, () => output);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    running.kill('SIGTERM');
    await exitOf(running);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for PONG on the port (redis-server answers once it has loaded, which here is at once). */
async function waitUntilServing(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${output()}`);
    const pong = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
    if (pong) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
