import { isSpeechKey, say, type Locale } from './speech.js';

/** What "is it open", "how warm is it" ask about: the catalogue's state fields each one reads. */
export const PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  open: ['position', 'contact', 'moving'],
  locked: ['locked', 'jammed'],
  on: ['on', 'brightness'],
  temperature: ['temperature', 'setpoint'],
  humidity: ['humidity'],
  armed: ['arm_mode', 'alarm'],
  motion: ['motion'],
  battery: ['battery', 'battery_low'],
};

const MAX_FACTS = 3;
/** Every field spoken about, in the order it is said. */
const FACT_FIELDS = [...Object.values(PROPERTIES).flat(), 'mode', 'fan_speed', 'color_temperature'];

/**
 * The device's reported state (the catalogue's fields, read by the core) as a
 * few short phrases: only the fields `property` asks about when it names one,
 * at most MAX_FACTS, and none that says nothing (not jammed, no alarm).
 */
export function stateFacts(locale: Locale, reported: Record<string, unknown>, property?: string): string[] {
  const fields = (property && PROPERTIES[property]) || FACT_FIELDS;
  return fields
    .filter((field) => field in reported && isSpeechKey(field))
    .map((field) => say(locale, field as Parameters<typeof say>[1], { value: reported[field] as string | number }))
    .filter(Boolean)
    .slice(0, MAX_FACTS);
}
