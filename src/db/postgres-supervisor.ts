import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../logger.js';

const POLL_MS = 250;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

export type SupervisedServer = { pid: number; child?: ChildProcess };

/** Whether a process exists (EPERM: it does, run by another user, as Postgres is when the gateway runs as root). */
export function pidIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Keeps the embedded PostgreSQL running for the gateway that owns it: when
 * the postmaster exits (killed, crashed, out of memory), it is started again
 * on the same port, so the pool's connection string stays right and the pool
 * reconnects by itself. Attempts back off from 250 ms to 10 s: right after a
 * SIGKILL the old backends still hold the shared memory for a moment, and
 * Postgres refuses to start until they are gone.
 *
 * A server the gateway adopted is not its child: its exit is noticed by polling.
 */
export class PostgresSupervisor {
  private server: SupervisedServer;
  private stopped = false;
  private poll: NodeJS.Timeout | undefined;
  private restarting = false;
  /** Times the server was started again (a Prometheus counter reads it). */
  restarts = 0;

  constructor(server: SupervisedServer, private readonly start: () => Promise<SupervisedServer>, private readonly log: Logger) {
    this.server = server;
    this.watch();
  }

  /** Whether the server process is alive now. */
  get running(): boolean {
    return !this.restarting && pidIsAlive(this.server.pid);
  }

  /** Stops supervising; answers the pid of the server now running, for the caller to stop. */
  stop(): number {
    this.stopped = true;
    clearInterval(this.poll);
    return this.server.pid;
  }

  private watch(): void {
    const { child, pid } = this.server;
    if (child) {
      child.once('exit', (code, signal) => this.exited(pid, code, signal));
      return;
    }
    this.poll = setInterval(() => {
      if (!pidIsAlive(pid)) {
        clearInterval(this.poll);
        this.exited(pid, null, null);
      }
    }, POLL_MS);
    this.poll.unref();
  }

  private exited(pid: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopped || this.restarting) return;
    this.restarting = true;
    this.log.error({ pid, code, signal }, 'embedded PostgreSQL exited; starting it again');
    void this.restart();
  }

  private async restart(): Promise<void> {
    for (let attempt = 1, delay = FIRST_BACKOFF_MS; !this.stopped; attempt++, delay = Math.min(delay * 2, MAX_BACKOFF_MS)) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      if (this.stopped) return;
      try {
        this.server = await this.start();
      } catch (error) {
        this.log.warn({ attempt, retryInMs: Math.min(delay * 2, MAX_BACKOFF_MS), err: (error as Error).message }, 'embedded PostgreSQL did not start yet');
        continue;
      }
      if (this.stopped) {
        // Shutdown began while it was starting: the caller stopped the old pid, so stop this one.
        process.kill(this.server.pid, 'SIGINT');
        return;
      }
      this.restarts++;
      this.restarting = false;
      this.log.warn({ pid: this.server.pid, attempt, restarts: this.restarts }, 'embedded PostgreSQL is running again');
      this.watch();
      return;
    }
  }
}
