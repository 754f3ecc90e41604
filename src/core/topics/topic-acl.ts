import type { TopicFilters } from '../../auth/app-credentials.js';
import { parseDeviceTopic, type DeviceTopic } from './device-topics.js';
import { filterCovers, filterCoversLiterally, literalMatcher, topicMatches } from './topic-match.js';

/**
 * What one MQTT session may publish and subscribe, computed once at CONNECT
 * from its credential and checked synchronously on every packet (an async
 * check would let aedes reorder one client's messages).
 * Topics and filters are relative to the tenant.
 */
export type TopicAcl = {
  /** `parsed`: the topic already parsed by the caller, so the hot path parses it once. */
  canPublish(topic: string, parsed?: DeviceTopic): boolean;
  canSubscribe(filter: string): boolean;
  /**
   * Topics a granted subscription may match but this session must not receive
   * (its deny filters that overlap a subscription without containing it),
   * asked for every delivery. Absent when nothing is withheld, so that most
   * sessions pay nothing per message.
   */
  withheld?: (topic: string) => boolean;
};

/**
 * The command channel between the gateway and a device
 * (`devices/<name>/commands/<id>`, and anything else a device's subscription to
 * its commands would receive): only the gateway publishes commands, after the
 * core's policy, PIN, approval and audit (DESIGN.md §2), and only a device
 * publishes its own results (deviceAcl). No app filter opens it.
 */
export const COMMAND_NAMESPACE = 'devices/+/commands/#';
const inCommandNamespace = literalMatcher([COMMAND_NAMESPACE]);

/**
 * A device publishes its own telemetry, state, events (if its credential may publish telemetry) and
 * command results, and subscribes to its own commands only.
 */
export function deviceAcl(name: string, mayPublishTelemetry = true): TopicAcl {
  const commands = `devices/${name}/commands/#`;
  return {
    canPublish(topic, parsed = parseDeviceTopic(topic)) {
      if (parsed === undefined || parsed.device !== name || parsed.kind === 'command') return false;
      return mayPublishTelemetry || parsed.kind === 'command-result';
    },
    canSubscribe(filter) {
      return filterCovers(commands, filter);
    },
  };
}

/**
 * An app credential: its allow filters, minus its deny filters (deny wins, as in
 * EMQX's ACL), and never the command namespace for publishing, whatever its
 * filters say. A subscription is granted if an allow filter covers it and no
 * deny filter does; where a deny filter only overlaps it (`#` beside a denied
 * `devices/+/commands/#`), the denied topics are withheld at delivery, the
 * retained ones included. `$SYS/…` (this tenant's broker statistics) is
 * allowed unless denied.
 */
export function appAcl(filters: TopicFilters): TopicAcl {
  const denied = filters.denySubscribe;
  return {
    canPublish(topic) {
      if (topic.startsWith('$') || inCommandNamespace(topic)) return false;
      return filters.publish.some((f) => topicMatches(f, topic)) && !filters.denyPublish.some((f) => topicMatches(f, topic));
    },
    canSubscribe(filter) {
      if (denied.some((f) => filterCoversLiterally(f, filter))) return false;
      if (filter.startsWith('$SYS/') || filter === '$SYS') return true;
      if (filter.startsWith('$')) return false;
      return filters.subscribe.some((f) => filterCovers(f, filter));
    },
    ...(denied.length > 0 ? { withheld: literalMatcher(denied) } : {}),
  };
}

const USER_READABLE = ['devices/+/telemetry/#', 'devices/+/state', 'devices/+/events/#'];

/**
 * A person on a dashboard (WebSocket, access token): may watch telemetry,
 * state and events of the tenant's devices if their role may read devices,
 * and never publishes (commands go through the API, where capability and PIN
 * checks apply).
 */
export function userAcl(mayReadDevices: boolean): TopicAcl {
  return {
    canPublish: () => false,
    canSubscribe: (filter) => mayReadDevices && USER_READABLE.some((f) => filterCovers(f, filter)),
  };
}
