/** "Now", as the automations see it (schedules, time windows, offline absences): a function, so tests and demos can move it. */
export type Clock = () => Date;

/**
 * Real time, or with a start (CLOCK_START): that instant when the process
 * boots, then advancing in real time. Two processes given the same start a
 * moment apart run a moment apart, as two nodes' clocks do.
 */
export function startClock(start?: Date): Clock {
  if (!start) return () => new Date();
  const offsetMs = start.getTime() - Date.now();
  return () => new Date(Date.now() + offsetMs);
}
