import type { ExposedDevice } from '../intents/intent.js';

/**
 * Short, voice-safe sentences (seed 003: voice gets the short version): no
 * symbols, units spoken, at most a few facts. Pure, so each has a unit test.
 */
const UNITS: Record<string, string> = { brightness: 'percent', battery: 'percent', humidity: 'percent', position: 'percent', fan_speed: 'percent', temperature: 'degrees', setpoint: 'degrees' };
const WORDS: Record<string, (value: unknown) => string> = {
  on: (value) => (value ? 'on' : 'off'),
  locked: (value) => (value ? 'locked' : 'unlocked'),
  jammed: (value) => (value ? 'jammed' : 'not jammed'),
};

export const spokenName = (device: Pick<ExposedDevice, 'name' | 'displayName'>): string => device.displayName ?? device.name.replace(/[-_]+/g, ' ');

const label = (field: string): string => field.replace(/_/g, ' ');

/** A reported value as said aloud: "40 percent", "19.5 degrees", "away". */
function spokenValue(field: string, value: unknown): string {
  return `${String(value).replace(/_/g, ' ')}${UNITS[field] ? ` ${UNITS[field]}` : ''}`;
}

/** One reported field as said aloud: "on", "brightness 40 percent". */
export function spokenField(field: string, value: unknown): string {
  return WORDS[field]?.(value) ?? `${label(field)} ${spokenValue(field, value)}`;
}

export function listSentence(devices: readonly Pick<ExposedDevice, 'name' | 'displayName'>[]): string {
  if (devices.length === 0) return 'You have no devices I can reach.';
  const names = devices.map(spokenName);
  if (names.length === 1) return `You have one device: ${names[0]}.`;
  return `You have ${names.length} devices: ${names.slice(0, -1).join(', ')} and ${names.at(-1)}.`;
}

/** "Desk lamp is on, brightness 40 percent." or, asked for one state, "Thermostat's temperature is 19.5 degrees." */
export function stateSentence(device: Pick<ExposedDevice, 'name' | 'displayName' | 'online' | 'reported'>, asked?: string): string {
  const name = spokenName(device);
  if (!device.online) return `${name} is offline.`;
  const field = asked?.toLowerCase().trim().replace(/\s+/g, '_');
  if (field) {
    if (device.reported[field] === undefined) return `${name} has not reported its ${asked}.`;
    const value = device.reported[field];
    return WORDS[field] ? `${name} is ${WORDS[field](value)}.` : `${name}'s ${label(field)} is ${spokenValue(field, value)}.`;
  }
  // "on" or "locked" first: what a person asks about most.
  const ordered = Object.entries(device.reported).sort(([a], [b]) => Number(b in WORDS) - Number(a in WORDS));
  const facts = ordered.slice(0, 3).map(([key, value]) => spokenField(key, value));
  return facts.length === 0 ? `${name} is online.` : `${name} is ${facts.join(', ')}.`;
}

/** A command the core answered, as said and as audited. */
export function commandSentence(status: string, name: string, command: string): { say: string; outcome: string } {
  if (status === 'succeeded') return { say: `Done. ${name}: ${command.replace(/_/g, ' ')}.`, outcome: 'SUCCESS' };
  if (status === 'awaiting_approval') return { say: 'That needs approval. I have asked for it.', outcome: 'PENDING' };
  return { say: `${name} could not do that.`, outcome: 'ERROR' };
}
