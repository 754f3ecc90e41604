/** A person's quiet hours: minutes after local midnight, in their time zone (start > end spans midnight). */
export type QuietHours = { start: number; end: number; timeZone: string };

const clocks = new Map<string, Intl.DateTimeFormat>();

function clockIn(timeZone: string): Intl.DateTimeFormat {
  let clock = clocks.get(timeZone);
  if (!clock) {
    clock = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    clocks.set(timeZone, clock);
  }
  return clock;
}

/** Minutes (with their fraction) since local midnight in `timeZone`. */
export function localMinutes(now: Date, timeZone: string): number {
  const parts = Object.fromEntries(clockIn(timeZone).formatToParts(now).map((part) => [part.type, part.value]));
  return Number(parts.hour) * 60 + Number(parts.minute) + Number(parts.second) / 60;
}

/**
 * When a notification held by quiet hours may be sent: `null` outside them. A
 * night across a daylight-saving change ends an hour early or late; it is
 * quiet hours, not an alarm clock.
 */
export function heldUntil(now: Date, quiet: QuietHours): Date | null {
  const { start, end } = quiet;
  if (start === end) return null;
  const local = localMinutes(now, quiet.timeZone);
  const inside = start < end ? local >= start && local < end : local >= start || local < end;
  if (!inside) return null;
  const wait = (end - local + 1440) % 1440;
  return new Date(now.getTime() + Math.ceil(wait * 60_000));
}
