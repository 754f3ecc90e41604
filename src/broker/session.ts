import type { TenantContext } from '../auth/context.js';
import type { TopicAcl } from '../core/topics/topic-acl.js';
import type { ArrivalOrder } from './arrival-order.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * What the front door learnt at CONNECT, carried on the connection: the
 * TenantContext (so every hook asks the core with it), the ACL computed once,
 * and the connection's own rate limiter.
 */
export type MqttSession = {
  ctx: TenantContext;
  acl: TopicAcl;
  /** Devices only: the name their topics use. */
  deviceName?: string;
  /** Where violations are counted against (a credential), and the client-id namespace. */
  credentialId: string;
  transport: 'tcp' | 'tls' | 'ws';
  remoteAddress: string | undefined;
  rate: RateLimiter;
  /** Its publishes are passed on in the order they arrived (hooks/publish.ts). */
  arrivals: ArrivalOrder;
  lastViolationEventAt: number;
  /** A violation's audit insert is under way: the next waits for its outcome (hooks/violations.ts). */
  violationRecording?: boolean;
  /** The filters granted to this connection, for the per-client limit (hooks/subscribe.ts). */
  subscriptions?: Set<string>;
  /**
   * Devices only: the commands already forwarded on this connection. A command
   * issued while a SUBSCRIBE's lookup of the outstanding ones runs reaches the
   * device live and through the lookup: it is sent once (hooks/publish.ts).
   */
  commandsForwarded?: Set<string>;
};

/** Set on the stream by the front door, read by the tenant broker's hooks. */
export const SESSION = Symbol('gatehouse.session');

export type WithSession = { [SESSION]?: MqttSession };

export function sessionOf(holder: unknown): MqttSession | undefined {
  return (holder as WithSession | null)?.[SESSION];
}
