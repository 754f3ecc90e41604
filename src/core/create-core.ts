import { createAuth, type Auth } from '../auth/auth-service.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { DeviceRegistry } from './devices/device-registry.js';
import { AccessPolicy } from './policy/access-policy.js';

/** The core services every adapter stands on; adapters receive this and nothing else of the core. */
export type Core = {
  db: Database;
  policy: AccessPolicy;
  devices: DeviceRegistry;
  auth: Auth;
};

export async function createCore(db: Database, config: Pick<Config, 'publicUrl'>, log: Logger): Promise<Core> {
  const policy = new AccessPolicy(db);
  return { db, policy, devices: new DeviceRegistry(db, policy), auth: await createAuth(db, policy, { issuer: config.publicUrl, log }) };
}
