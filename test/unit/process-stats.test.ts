import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { descendantsCpuSeconds, machineBusySeconds } from '../../bench/targets/process-stats.js';

// Spins until the process itself has used 0.4 s of CPU, however long that takes on a loaded machine:
// the amount of work is fixed by the CPU clock, never by the wall clock.
const BURN = 'while (process.cpuUsage().user + process.cpuUsage().system < 400000);';

describe('bench process accounting', () => {
  it("counts the CPU of a process's descendants, those that have exited and been reaped included", async () => {
    const machineBefore = machineBusySeconds();
    // sh → sh → a busy process that runs to its end: its time lives on in the inner shell's time for reaped children.
    const outer = spawn('sh', ['-c', `sh -c '"${process.execPath}" -e "${BURN}"; echo burnt; sleep 30'; true`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    try {
      await once(outer.stdout, 'data');
      // 0.4 s spent for certain; /proc counts in 10 ms ticks, so a little under that is still the burner's time.
      expect(descendantsCpuSeconds(outer.pid!)).toBeGreaterThanOrEqual(0.38);
      // The machine was busy at least as long as that one process (others' load only adds).
      expect(machineBusySeconds() - machineBefore).toBeGreaterThanOrEqual(0.38);
    } finally {
      process.kill(-outer.pid!, 'SIGKILL');
    }
  });
});
