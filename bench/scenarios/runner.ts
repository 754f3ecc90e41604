import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectReport, ConnectSpec, PublishReport, PublishSpec } from '../load/spec.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The generator always runs compiled, also when this module is loaded from source (by the tests). */
const COMPILED_BESIDE = path.resolve(HERE, '../load/generator.js');
const GENERATOR = existsSync(COMPILED_BESIDE) ? COMPILED_BESIDE : path.resolve(HERE, '../../dist/bench/load/generator.js');

/**
 * Runs one load generator process and returns its report. A publishing
 * generator connects its clients first, then calls `ready` (where the
 * caller starts measuring) and waits for it before publishing.
 */
export function runGenerator(spec: PublishSpec, ready?: () => void): Promise<PublishReport>;
export function runGenerator(spec: ConnectSpec): Promise<ConnectReport>;
export function runGenerator(spec: PublishSpec | ConnectSpec, ready?: () => void): Promise<PublishReport | ConnectReport> {
  return new Promise((resolve, reject) => {
    // The spec goes in on stdin: ten thousand credentials do not fit in argv.
    const child = spawn(process.execPath, ['--max-old-space-size=4096', GENERATOR], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }) as ChildProcessWithoutNullStreams; // pipes on 0-2, as asked
    child.once('message', () => {
      ready?.();
      child.send('go', () => undefined); // a generator gone meanwhile is reported by its exit
    });
    child.stdin.end(JSON.stringify(spec));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A throw here would end the bench without stopping its targets: every failure is a rejection.
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
      } catch (error) {
        reject(new Error(`load generator failed (${(error as Error).message}): ${stderr.slice(-1000) || 'no report'}`));
      }
    });
  });
}
