import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Broker counters are plain numbers bumped on the hot path and read by
 * Prometheus at scrape time: no label lookups per message.
 */
export class BrokerMetrics {
  connectsAccepted = 0;
  connectsRefused = 0;
  malformed = 0;
  packetsTooLarge = 0;
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  refusedPublishes: Record<string, number> = { acl: 0, rate_limit: 0, tenant_rate: 0, payload_too_large: 0, topic_limits: 0, invalid_topic: 0 };
  refusedSubscribes = 0;
  telemetryRejected: Record<string, number> = { too_large: 0 };
  readonly batchRows: Histogram;
  readonly commitSeconds: Histogram;

  constructor(registry: Registry, gauges: { connections: () => number; telemetryQueue: () => number; tenants: () => { running: number; withState: number } }) {
    const counter = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
    const labelled = (name: string, help: string, label: string, read: () => Record<string, number>) =>
      new Counter({
        name, help, labelNames: [label], registers: [registry],
        collect() {
          this.reset();
          for (const [value, count] of Object.entries(read())) this.inc({ [label]: value }, count);
        },
      });
    new Gauge({ name: 'gatehouse_mqtt_connections', help: 'Open MQTT connections (all transports).', registers: [registry], collect() { this.set(gauges.connections()); } });
    new Gauge({ name: 'gatehouse_mqtt_tenants_running', help: 'Tenants with a broker instance alive (released MQTT_TENANT_IDLE_MS after their last client left).', registers: [registry], collect() { this.set(gauges.tenants().running); } });
    new Gauge({ name: 'gatehouse_mqtt_tenants_with_state', help: 'Tenants whose persistent sessions, queued or retained messages are kept, with or without an instance.', registers: [registry], collect() { this.set(gauges.tenants().withState); } });
    new Gauge({ name: 'gatehouse_telemetry_queue_depth', help: 'Telemetry rows waiting for their batch.', registers: [registry], collect() { this.set(gauges.telemetryQueue()); } });
    counter('gatehouse_mqtt_connects_accepted_total', 'CONNECTs accepted.', () => this.connectsAccepted);
    counter('gatehouse_mqtt_connects_refused_total', 'CONNECTs refused (credentials, limits, protocol).', () => this.connectsRefused);
    counter('gatehouse_mqtt_malformed_total', 'Connections closed for a malformed packet the gateway read itself (before CONNECT, a fixed header, a will topic).', () => this.malformed);
    counter('gatehouse_mqtt_packets_too_large_total', 'Connections closed for a packet declaring more than MQTT_MAX_PACKET_BYTES (MQTT_MAX_CONNECT_BYTES for a CONNECT).', () => this.packetsTooLarge);
    counter('gatehouse_mqtt_messages_in_total', 'PUBLISH packets received.', () => this.messagesIn);
    counter('gatehouse_mqtt_bytes_in_total', 'PUBLISH payload bytes received.', () => this.bytesIn);
    counter('gatehouse_mqtt_messages_out_total', 'PUBLISH packets forwarded to subscribers.', () => this.messagesOut);
    counter('gatehouse_mqtt_subscribes_refused_total', 'Subscriptions refused (0x80).', () => this.refusedSubscribes);
    labelled('gatehouse_mqtt_publishes_refused_total', 'PUBLISH packets refused, by reason.', 'reason', () => this.refusedPublishes);
    labelled('gatehouse_telemetry_rejected_total', 'Telemetry payloads refused, by reason.', 'reason', () => this.telemetryRejected);
    this.batchRows = new Histogram({ name: 'gatehouse_telemetry_batch_rows', help: 'Rows per telemetry batch.', buckets: [1, 5, 20, 50, 100, 250, 500, 1000, 2000], registers: [registry] });
    this.commitSeconds = new Histogram({ name: 'gatehouse_telemetry_commit_seconds', help: 'Time to write and commit one telemetry batch.', buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] });
  }
}
