import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a bench fake counts: requests answered, 200s, refusals by reason, connections, first and last request (epoch ms). */
export type FakeReport = { requests: number; accepted: number; refused: Record<string, number>; sessions: number; firstAt: number | null; lastAt: number | null };

/** What a fake process says over IPC: its port once, a report when asked, and (if its spec asks) each request as it is answered. */
export type FakeMessage<R> = { kind: 'listening'; port: number } | { kind: 'report'; report: FakeReport } | { kind: 'request'; request: R };

export type FakeProcess = {
  pid: number;
  port: number;
  report(): Promise<FakeReport>;
  close(): Promise<void>;
};

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A fake's script runs compiled, also when this module is loaded from source (by the tests). */
function compiled(name: string): string {
  const beside = path.join(HERE, `${name}.js`);
  return existsSync(beside) ? beside : path.resolve(HERE, `../../dist/bench/push/${name}.js`);
}

/**
 * Forks a provider fake (`name`: a script beside this file) in a process of
 * its own, so that its CPU is counted apart and its work does not run on the
 * caller's event loop; gives it its spec on stdin and waits for its port.
 */
export async function forkFake<R = never>(name: string, spec: unknown, onRequest?: (request: R) => void): Promise<FakeProcess> {
  const script = compiled(name);
  const child = fork(script, [], { stdio: ['pipe', 'inherit', 'inherit', 'ipc'] });
  const reports: ((report: FakeReport) => void)[] = [];
  let listening: (port: number) => void = () => {};
  child.on('message', (raw) => {
    const message = raw as FakeMessage<R>;
    if (message.kind === 'listening') listening(message.port);
    else if (message.kind === 'report') reports.shift()?.(message.report);
    else onRequest?.(message.request);
  });
  child.stdin!.end(JSON.stringify(spec));
  const port = await new Promise<number>((resolve, reject) => {
    listening = resolve;
    child.once('exit', (code) => reject(new Error(`the fake ${script} exited (${code}) before it listened`)));
  });
  return {
    pid: child.pid!,
    port,
    report: () => new Promise((resolve) => {
      reports.push(resolve);
      child.send('report');
    }),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The child's side: reads the spec from stdin, starts the server (which
 * returns its port) and answers report requests with the counters it keeps.
 */
export function runFake<S, R = never>(start: (spec: S, report: FakeReport, notify: (request: R) => void) => Promise<number>): void {
  const send = (message: FakeMessage<R>) => process.send!(message);
  void (async () => {
    let input = '';
    for await (const chunk of process.stdin) input += String(chunk);
    const report: FakeReport = { requests: 0, accepted: 0, refused: {}, sessions: 0, firstAt: null, lastAt: null };
    const port = await start(JSON.parse(input) as S, report, (request) => send({ kind: 'request', request }));
    process.on('message', (message) => {
      if (message === 'report') send({ kind: 'report', report });
    });
    send({ kind: 'listening', port });
  })().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
