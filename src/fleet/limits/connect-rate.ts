import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { limitKey } from './keys.js';

/**
 * MQTT_CONNECT_RATE_PER_CREDENTIAL: CONNECTs one credential may make per
 * second once authenticated (a device in a reconnect loop, a leaked secret
 * used from many places); past it the CONNECT is refused with CONNACK 3 and
 * the client retries later. 0 is no limit: nothing is counted.
 */
export interface ConnectRate {
  /** Counts one CONNECT of the credential; false when it is over its rate. */
  allow(tenantId: string, credentialId: string): boolean | Promise<boolean>;
}

/** A limit of 0: every CONNECT passes, at no cost. */
export const UNLIMITED_CONNECTS: ConnectRate = { allow: () => true };

/** rate-limiter-flexible's counters, in this process or in Redis: one fixed one-second window per credential. */
export class LimiterConnectRate implements ConnectRate {
  constructor(private readonly limiter: RateLimiterAbstract) {}

  async allow(tenantId: string, credentialId: string): Promise<boolean> {
    try {
      await this.limiter.consume(limitKey(tenantId, 'connect', credentialId));
      return true;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return false;
      throw refusal;
    }
  }
}

/** In this process (a single node). `windowSeconds`: 1 in the gateway; tests widen it so that no window ends mid-test. */
export function localConnectRate(perSecond: number, windowSeconds = 1): ConnectRate {
  return perSecond === 0 ? UNLIMITED_CONNECTS : new LimiterConnectRate(new RateLimiterMemory({ points: perSecond, duration: windowSeconds }));
}

/**
 * Fleet-wide, in Redis (rate-limiter-flexible's RateLimiterRedis: one atomic
 * INCRBY-with-expiry script per CONNECT). While Redis is unreachable the
 * insurance limiter counts on this node alone, so the rate holds per node.
 */
export function redisConnectRate(redis: Redis, perSecond: number, windowSeconds = 1): ConnectRate {
  if (perSecond === 0) return UNLIMITED_CONNECTS;
  return new LimiterConnectRate(new RateLimiterRedis({
    storeClient: redis, keyPrefix: '', points: perSecond, duration: windowSeconds, rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ points: perSecond, duration: windowSeconds }),
  }));
}
