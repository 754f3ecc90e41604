import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectReport, ConnectSpec, PublishReport, PublishSpec } from '../load/spec.js';

const GENERATOR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../load/generator.js');

/** Runs one load generator process and returns its report. */
export function runGenerator(spec: PublishSpec): Promise<PublishReport>;
export function runGenerator(spec: ConnectSpec): Promise<ConnectReport>;
export function runGenerator(spec: PublishSpec | ConnectSpec): Promise<PublishReport | ConnectReport> {
  return new Promise((resolve, reject) => {
    // The spec goes in on stdin: ten thousand credentials do not fit in argv.
    const child = spawn(process.execPath, ['--max-old-space-size=4096', GENERATOR], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify(spec));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
      else reject(new Error(`load generator failed (${code}): ${stderr.slice(-1000)}`));
    });
  });
}
