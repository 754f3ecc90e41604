import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Fleet } from './fleet.js';
import { LocalFleet } from './local-fleet.js';
import { RedisFleet } from './redis-fleet.js';

/** The process's fleet: in memory without REDIS_URL (one node, today's paths), over Redis with it. */
export async function createFleet(config: Pick<Config, 'redisUrl'>, log: Logger): Promise<Fleet> {
  return config.redisUrl ? RedisFleet.start({ url: config.redisUrl, log }) : new LocalFleet();
}
