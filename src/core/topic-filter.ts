/**
 * MQTT topic filter syntax [MQTT-4.7.1]: `#` only as the whole last level,
 * `+` only as a whole level, no NUL, 1..65535 bytes.
 */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || Buffer.byteLength(filter) > 65_535 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, index) =>
    level === '#' ? index === levels.length - 1 : level === '+' || (!level.includes('#') && !level.includes('+')),
  );
}
