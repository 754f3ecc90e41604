import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { descendantsCpuSeconds, machineBusySeconds } from '../../bench/targets/process-stats.js';

const BURN = 'const end = Date.now() + 400; while (Date.now() < end);';

describe('bench process accounting', () => {
  it("counts the CPU of a process's descendants, those that have exited and been reaped included", async () => {
    const machineBefore = machineBusySeconds();
    // sh → sh → a busy process that runs to its end: its time lives on in the inner shell's time for reaped children.
    const outer = spawn('sh', ['-c', `sh -c '"${process.execPath}" -e "${BURN}"; echo burnt; sleep 30'; true`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    try {
      await once(outer.stdout, 'data');
      expect(descendantsCpuSeconds(outer.pid!)).toBeGreaterThanOrEqual(0.3);
      expect(machineBusySeconds() - machineBefore).toBeGreaterThanOrEqual(0.3);
    } finally {
      process.kill(-outer.pid!, 'SIGKILL');
    }
  });
});
