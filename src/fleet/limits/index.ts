import { DEFAULT_LIMITS, type FailureLimitsFactory } from '../../auth/failure-limiter.js';
import type { Logger } from '../../logger.js';
import type { Fleet } from '../fleet.js';
import { RedisFleet } from '../redis-fleet.js';
import { localConnectRate, redisConnectRate, type ConnectRate } from './connect-rate.js';
import { LocalConnectionSlots, type ConnectionSlots } from './connection-slots.js';
import { RedisConnectionSlots } from './redis-connection-slots.js';
import { RedisFailureLimits } from './redis-failure-limits.js';
import { RedisTenantRates } from './redis-tenant-rates.js';
import { LocalTenantRates, type TenantRateLimits, type TenantRates } from './tenant-rates.js';

export type { ConnectRate } from './connect-rate.js';
export type { ConnectionSlots, Slot } from './connection-slots.js';
export type { TenantRates, TenantRateLimits } from './tenant-rates.js';

/** The limits a node enforces that hold across the fleet when there is one (README "Limits"). */
export type FleetLimits = {
  /** MQTT_MAX_CONNECTIONS_PER_CREDENTIAL. */
  connectionSlots: ConnectionSlots;
  /** MQTT_CONNECT_RATE_PER_CREDENTIAL. */
  connectRate: ConnectRate;
  /** MQTT_TENANT_RATE_MESSAGES, MQTT_TENANT_RATE_BYTES. */
  tenantRates: TenantRates;
  /** Brute-force lockouts in Redis; none on a single node, where src/auth keeps its own FailureLimiter. */
  failureLimits: FailureLimitsFactory | undefined;
  close(): Promise<void>;
};

export type FleetLimitOptions = {
  maxConnectionsPerCredential: number;
  connectsPerSecondPerCredential: number;
  tenantRates: TenantRateLimits;
  /** How long a dead node's connection slots outlive it (FLEET_NODE_TTL_MS). */
  nodeTtlMs: number;
  /** How often a node settles its tenants' rate counts with the others (100..250 ms). */
  settleMs: number;
};

/**
 * The limits of a node: in this process on a fleet of one (no REDIS_URL: the
 * counts as they always were), over the fleet's shared command connection
 * when it runs over Redis.
 */
export function createFleetLimits(fleet: Fleet, options: FleetLimitOptions, log: Logger): FleetLimits {
  const redis = fleet instanceof RedisFleet ? fleet.commands : undefined;
  const limitsLog = log.child({ component: 'fleet-limits' });
  const limits: Omit<FleetLimits, 'close'> = redis ? {
    // The node's field is named as its Redis connections are (gatehouse:<node>:pub), to be told apart in Redis.
    connectionSlots: new RedisConnectionSlots(redis, { limit: options.maxConnectionsPerCredential, lifetimeMs: options.nodeTtlMs, nodeId: (fleet as RedisFleet).nodeId.toString('hex') }, limitsLog),
    connectRate: redisConnectRate(redis, options.connectsPerSecondPerCredential),
    tenantRates: new RedisTenantRates(redis, { ...options.tenantRates, settleMs: options.settleMs }, limitsLog),
    failureLimits: (onLockout) => new RedisFailureLimits(redis, DEFAULT_LIMITS, onLockout),
  } : {
    connectionSlots: new LocalConnectionSlots(options.maxConnectionsPerCredential),
    connectRate: localConnectRate(options.connectsPerSecondPerCredential),
    tenantRates: new LocalTenantRates(options.tenantRates),
    failureLimits: undefined,
  };
  return {
    ...limits,
    async close() {
      await limits.tenantRates.close();
      await limits.connectionSlots.close();
    },
  };
}
