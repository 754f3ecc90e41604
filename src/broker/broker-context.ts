import type { CommandService } from '../core/commands/command-service.js';
import type { Core } from '../core/create-core.js';
import type { DeviceStateWriter } from '../core/devices/device-state-writer.js';
import type { TelemetryWriter } from '../core/telemetry/telemetry-writer.js';
import type { Fleet } from '../fleet/fleet.js';
import type { TenantRates } from '../fleet/limits/index.js';
import type { Logger } from '../logger.js';
import type { BrokerMetrics } from './broker-metrics.js';

export type BrokerLimits = {
  maxPayloadBytes: number;
  maxPacketBytes: number;
  maxSubscriptionsPerPacket: number;
  maxSubscriptionsPerClient: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  telemetryMaxBytes: number;
};

/** One connection per client id fleet-wide (src/fleet/persistence/takeover-locks.ts); absent on a single node. */
export type ClientLocks = {
  /** Resolves once the client id is this connection's alone, any other holder closed first; rejects when it cannot be had in time. */
  lock(tenantId: string, clientId: string, client: { close(): void; conn: { destroyed: boolean; once(event: 'close', listener: () => void): unknown } }): Promise<void>;
};

/** Everything a tenant broker's hooks need; shared by all tenants' brokers. */
export type BrokerContext = {
  core: Core;
  telemetry: TelemetryWriter;
  deviceState: DeviceStateWriter;
  commands: CommandService;
  limits: BrokerLimits;
  metrics: BrokerMetrics;
  log: Logger;
  /** What this node shares with the others: each tenant's emitter comes from it. */
  fleet: Fleet;
  /** MQTT_TENANT_RATE_MESSAGES and _BYTES, this node's or the fleet's (src/fleet/limits). */
  tenantRates: TenantRates;
  clientLocks?: ClientLocks;
};
