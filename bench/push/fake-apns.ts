import { fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevCa, issueCertificate } from '../../src/broker/dev-certificates.js';

/** What the fake process is given on stdin: its TLS identity and the provider keys it accepts. */
export type FakeApnsSpec = { cert: string; key: string; teamId: string; keys: Record<string, string> };
/** What it counts: requests answered, 200s, refusals by reason, HTTP/2 connections, first and last request (epoch ms). */
export type FakeApnsReport = { requests: number; accepted: number; refused: Record<string, number>; sessions: number; firstAt: number | null; lastAt: number | null };

export type FakeApns = {
  pid: number;
  /** The gateway's PUSH_* settings that point its APNs sender here. */
  env: Record<string, string>;
  /** A .p8 key and its ids, as `gatehouse push credentials set --apns-key` takes them. */
  credential: { signingKey: string; keyId: string; teamId: string };
  report(): Promise<FakeApnsReport>;
  close(): Promise<void>;
};

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_KEY_ID = 'BENCHKEY01';
export const BENCH_TEAM_ID = 'BENCHTEAM1';

/** Starts the bench's APNs (fake-apns-server.ts) in its own process, with a throwaway CA the gateway is told to trust. */
export async function startFakeApns(): Promise<FakeApns> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-apns-'));
  const ca = await createDevCa();
  const server = await issueCertificate(ca, { server: ['localhost', '127.0.0.1'] });
  await writeFile(path.join(dir, 'ca.pem'), ca.cert);
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spec: FakeApnsSpec = { ...server, teamId: BENCH_TEAM_ID, keys: { [BENCH_KEY_ID]: key.publicKey.export({ type: 'spki', format: 'pem' }).toString() } };
  const child = fork(path.join(HERE, 'fake-apns-server.js'), [], { stdio: ['pipe', 'inherit', 'inherit', 'ipc'] });
  child.stdin!.end(JSON.stringify(spec));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the bench's fake APNs exited (${code}) before it listened`)));
  });
  return {
    pid: child.pid!,
    env: { PUSH_APNS_ENDPOINT: `127.0.0.1:${port}`, PUSH_PROVIDER_CA: path.join(dir, 'ca.pem') },
    credential: { signingKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: BENCH_KEY_ID, teamId: BENCH_TEAM_ID },
    report: () => new Promise((resolve) => {
      child.once('message', (message) => resolve(message as FakeApnsReport));
      child.send('report');
    }),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
