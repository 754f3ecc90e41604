import { recordSecurityEvent } from '../../core/audit-log.js';
import type { BrokerContext } from '../broker-context.js';
import { auditableString } from '../mqtt-strings.js';
import type { MqttSession } from '../session.js';

const EVENT_INTERVAL_MS = 60_000;

export type Violation = { reason: string; topic: string };

/**
 * A refused PUBLISH is audited as DEVICE_TOPIC_VIOLATION, at most once a
 * minute per connection, so a misbehaving device cannot flood the log.
 *
 * Only a recorded event spends the minute: the limiter is set once the insert
 * has committed, and one insert at a time is tried per connection. The topic
 * comes from the wire, so it is made fit for jsonb first (no U+0000): a device
 * could otherwise keep its own violations out of the log by putting a NUL in
 * the topic, failing the insert after the limiter was spent.
 */
export function reportViolation(context: BrokerContext, session: MqttSession, violation: Violation): void {
  if (session.violationRecording || Date.now() - session.lastViolationEventAt < EVENT_INTERVAL_MS) return;
  session.violationRecording = true;
  const details = { reason: violation.reason, topic: auditableString(violation.topic) };
  context.log.warn({ tenantId: session.ctx.tenantId, principal: session.ctx.principal, ...details }, 'MQTT topic violation');
  context.core.db
    .withTenant(session.ctx, (tx) => recordSecurityEvent(tx, session.ctx, { type: 'DEVICE_TOPIC_VIOLATION', sourceIp: session.remoteAddress, details }))
    .then(
      () => (session.lastViolationEventAt = Date.now()),
      (error: unknown) => context.log.error({ err: error }, 'could not record a topic violation'),
    )
    .finally(() => (session.violationRecording = false));
}
