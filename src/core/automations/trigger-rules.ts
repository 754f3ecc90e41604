import { Cron } from 'croner';
import { GatewayError } from '../errors.js';
import type { Comparison, Condition, Trigger } from './automation-schema.js';

/** Pure rules of triggers and conditions, each with its unit test (test/unit/automation-rules.test.ts). */

type Threshold = Extract<Trigger, { kind: 'threshold' }>;

/** A state field by its dotted path; undefined when absent. */
export function fieldOf(state: unknown, path: string): unknown {
  let value: unknown = state;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * A threshold with hysteresis, as a thermostat's: it fires when the value
 * crosses the threshold while armed, and is armed again only once the value
 * went back past the threshold by `hysteresis` (so a value wobbling around it
 * fires once). `armed` is what was stored; answers whether to fire and the new armed.
 */
export function crossing(trigger: Threshold, value: unknown, armed: boolean): { fire: boolean; armed: boolean } {
  if (typeof value !== 'number' || !Number.isFinite(value)) return { fire: false, armed };
  const band = trigger.hysteresis ?? 0;
  if (trigger.above !== undefined) {
    if (value > trigger.above) return { fire: armed, armed: false };
    return { fire: false, armed: armed || value <= trigger.above - band };
  }
  if (trigger.below !== undefined) {
    if (value < trigger.below) return { fire: armed, armed: false };
    return { fire: false, armed: armed || value >= trigger.below + band };
  }
  return { fire: false, armed };
}

export function compare(actual: unknown, op: Comparison, expected: unknown): boolean {
  switch (op) {
    case 'eq': return actual === expected;
    case 'ne': return actual !== expected;
    default: {
      if (typeof actual !== 'number' || typeof expected !== 'number') return false;
      return op === 'gt' ? actual > expected : op === 'gte' ? actual >= expected : op === 'lt' ? actual < expected : actual <= expected;
    }
  }
}

/** Minutes after local midnight of `at` in `timeZone`. */
export function localMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/** Whether `at` falls in [after, before) in the tenant's time zone; a window past midnight (22:00–06:00) wraps. */
export function inWindow(at: Date, timeZone: string, after: string, before: string): boolean {
  const minutes = localMinutes(at, timeZone);
  const [start, end] = [after, before].map((clock) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5))) as [number, number];
  return start <= end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
}

export type EvaluatedCondition = Condition & { actual?: unknown; passed: boolean };

/** Conditions as evaluated, for the run's history: each with what it saw and whether it passed. */
export function evaluate(conditions: readonly Condition[], stateOf: (device: string) => unknown, at: Date, timeZone: string): EvaluatedCondition[] {
  return conditions.map((condition) => {
    if (condition.kind === 'time') return { ...condition, actual: at.toISOString(), passed: inWindow(at, timeZone, condition.after, condition.before) };
    const actual = fieldOf(stateOf(condition.device), condition.field);
    return { ...condition, actual: actual ?? null, passed: compare(actual, condition.op, condition.value) };
  });
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The cron's next firing strictly after `after`, in `timeZone` (croner: IANA zones, DST gaps and overlaps). VALIDATION_FAILED for a bad pattern. */
export function nextFiring(cron: string, timeZone: string, after: Date): Date | null {
  let job: Cron;
  try {
    job = new Cron(cron, { timezone: timeZone, paused: true, mode: '5-part' });
  } catch (error) {
    throw new GatewayError('VALIDATION_FAILED', `Schedule: "${cron}" is not a cron pattern (${(error as Error).message}).`, { cron });
  }
  return job.nextRun(after);
}
