import { recordSecurityEvent } from '../../core/audit-log.js';
import type { BrokerContext } from '../broker-context.js';
import type { MqttSession } from '../session.js';

const EVENT_INTERVAL_MS = 60_000;

/**
 * A refused PUBLISH is audited as DEVICE_TOPIC_VIOLATION, at most once a
 * minute per connection, so a misbehaving device cannot flood the log.
 */
export function reportViolation(context: BrokerContext, session: MqttSession, details: Record<string, unknown>): void {
  const now = Date.now();
  if (now - session.lastViolationEventAt < EVENT_INTERVAL_MS) return;
  session.lastViolationEventAt = now;
  context.log.warn({ tenantId: session.ctx.tenantId, principal: session.ctx.principal, ...details }, 'MQTT topic violation');
  context.core.db
    .withTenant(session.ctx, (tx) => recordSecurityEvent(tx, session.ctx, { type: 'DEVICE_TOPIC_VIOLATION', sourceIp: session.remoteAddress, details }))
    .catch((error: unknown) => context.log.error({ err: error }, 'could not record a topic violation'));
}
