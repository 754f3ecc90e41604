import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** Fields of /proc/PID/stat after the command name (which may hold spaces): [0] is the state, [1] the parent. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** CPU seconds (user + system) of a process so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Time a process has spent on a CPU so far, in µs, to the nanosecond (/proc/PID/schedstat): for costs below /proc/PID/stat's 10 ms ticks. */
export function onCpuMicroseconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1_000;
}

/**
 * CPU seconds of every process below `pid` (for Gatehouse: its embedded
 * Postgres, server and backends), those that have exited included: each
 * live descendant counts its own time and that of the children it reaped.
 */
export function descendantsCpuSeconds(pid: number): number {
  const parents = new Map<number, { parent: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = statFields(Number(entry));
      parents.set(Number(entry), { parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) });
    } catch {
      // gone meanwhile
    }
  }
  const below = (candidate: number): boolean => {
    for (let up = parents.get(candidate)?.parent; up !== undefined && up > 0; up = parents.get(up)?.parent) if (up === pid) return true;
    return false;
  };
  let ticks = 0;
  for (const [candidate, { ticks: own }] of parents) if (below(candidate)) ticks += own;
  return ticks / TICKS;
}

/** Seconds of CPU the whole machine has spent busy (every state but idle and I/O wait), over all cores. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / TICKS;
}

/** Resident set size now, in bytes. */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // the process is gone
    }
  }, everyMs);
  peak = rssBytes(pid);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}
