/**
 * A shared subscription (MQTT 5 §4.8.2, offered to MQTT 3.1.1 clients too, as
 * EMQX and HiveMQ do): `$share/<group>/<filter>` joins group `<group>` on
 * `<filter>`, and each message matching it goes to one member of the group.
 * EMQX's `$queue/<filter>` is the group `$queue`.
 */
export type SharedFilter = { group: string; filter: string };

const SHARE = '$share/';
const QUEUE = '$queue/';

/**
 * The group and filter of a shared subscription; `undefined` for an ordinary
 * filter; `null` for a malformed one ([MQTT-4.8.2-1] [MQTT-4.8.2-2]: the
 * group is at least one character, without `/`, `+` or `#`, and a filter follows).
 */
export function parseSharedFilter(topic: string): SharedFilter | null | undefined {
  if (topic.startsWith(QUEUE)) return topic.length > QUEUE.length ? { group: '$queue', filter: topic.slice(QUEUE.length) } : null;
  if (!topic.startsWith(SHARE)) return undefined;
  const slash = topic.indexOf('/', SHARE.length);
  if (slash <= SHARE.length || slash === topic.length - 1) return null;
  const group = topic.slice(SHARE.length, slash);
  if (group.includes('+') || group.includes('#')) return null;
  return { group, filter: topic.slice(slash + 1) };
}
