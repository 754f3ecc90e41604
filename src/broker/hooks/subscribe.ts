import type { Client, Subscription } from 'aedes';
import { isSharedSubscription } from '../../core/topics/topic-acl.js';
import { levelCount } from '../../core/topics/topic-match.js';
import type { BrokerContext } from '../broker-context.js';
import { sessionOf } from '../session.js';

/**
 * aedes authorizeSubscribe: the ACL computed at CONNECT decides; a refused
 * filter gets 0x80 in the SUBACK and the connection stays. Shared
 * subscriptions are refused (aedes has none to offer).
 */
export function authorizeSubscribeHook(context: BrokerContext) {
  const { limits, metrics } = context;
  return function authorizeSubscribe(client: Client, sub: Subscription, callback: (error: Error | null, sub?: Subscription | null) => void): void {
    const session = sessionOf(client);
    const filter = sub.topic;
    const allowed = session !== undefined && !isSharedSubscription(filter) && filter.length <= limits.maxTopicLength
      && levelCount(filter) <= limits.maxTopicLevels && session.acl.canSubscribe(filter);
    if (!allowed) {
      metrics.refusedSubscribes++;
      return callback(null, null);
    }
    callback(null, sub);
  };
}
