import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';

/** `npm run bench` end to end on one short scenario: it completes and accounts for every row. No timing is asserted. */
describe('npm run bench (smoke)', () => {
  it('runs QoS 0 and QoS 1 ingest, push and commit-cost against a gateway it starts itself and counts every row', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench/run.js'), 'qos0-ingest', 'qos1-ingest', 'push', 'commit-cost', '--quick', '--targets', 'gatehouse', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    const { results, push, commitCost } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      results: { scenario: string; ok: boolean; details: Record<string, number>; cpu: { targetUs: number; databaseUs: number | null } }[];
      push: { provider: string; ok: boolean; deliveries: number; committed: number; fake: { accepted: number } }[];
      commitCost: { floor: Record<string, number>; writes: { rows: number; deviceCheck: boolean; usPerCall: number }[] };
    };
    expect(results.map((r) => r.scenario)).toEqual(['qos0-ingest', 'qos1-ingest']);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results[0]!.details.accountedFor).toBe(results[0]!.details.sent);
    expect(results[1]!.details.rowsStored).toBe(results[1]!.details.acked);
    // The embedded Postgres is found below the gateway and its work counted (not timed: only that it is there).
    for (const r of results) expect(r.cpu.databaseUs).toBeGreaterThan(0);
    // Push: every queued delivery committed 'sent' in Postgres, and received once by the fake APNs, then by the fake FCM.
    expect(push.map((run) => run.provider)).toEqual(['apns', 'fcm']);
    for (const run of push) expect(run).toMatchObject({ ok: true, committed: run.deliveries, fake: { accepted: run.deliveries } });
    // commit-cost: the Postgres backend's CPU read for each floor and each group size, with and without the device check.
    expect(Object.values(commitCost.floor).every((us) => us > 0)).toBe(true);
    expect(commitCost.writes.map((w) => `${w.rows}/${w.deviceCheck}`)).toEqual(['1/true', '1/false', '8/true', '8/false', '80/true', '80/false', '1000/true', '1000/false']);
    expect(commitCost.writes.every((w) => w.usPerCall > 0)).toBe(true);
  }, 120_000);
});
