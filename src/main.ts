import type { AddressInfo } from 'node:net';
import { buildApi, type HttpApp } from './api/app.js';
import type { Config } from './config.js';
import { DeviceRegistry } from './core/devices/device-registry.js';
import { GatewayError } from './core/errors.js';
import { AccessPolicy } from './core/policy/access-policy.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';

/** The core services every adapter stands on. */
export type Core = {
  db: Database;
  policy: AccessPolicy;
  devices: DeviceRegistry;
};

export type Gateway = {
  core: Core;
  http: HttpApp;
  httpPort: number;
  databaseUrl: string;
  /** Stops accepting, finishes in-flight work, closes the pool, stops the embedded server. */
  close(): Promise<void>;
};

export function createCore(db: Database): Core {
  const policy = new AccessPolicy(db);
  return { db, policy, devices: new DeviceRegistry(db, policy) };
}

async function listen(app: HttpApp, port: number, host: string, variable: string): Promise<number> {
  try {
    await app.listen({ port, host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new GatewayError('PORT_IN_USE', `${variable} ${port} is already in use on ${host}; stop the other process or choose another port.`);
    if (code === 'EACCES') throw new GatewayError('PORT_IN_USE', `${variable} ${port} needs privileges this process does not have; choose a port above 1023.`);
    throw error;
  }
  return (app.server.address() as AddressInfo).port;
}

/** The composition root: config → database → core → adapters. */
export async function startGateway(config: Config, log: Logger): Promise<Gateway> {
  const database = await openDatabase(config, log, { adoptOrphan: true, migrate: true });
  const core = createCore(database.db);
  const metrics = createMetrics();
  let http: HttpApp | undefined;
  try {
    http = await buildApi({ db: core.db, log, metrics, publicUrl: config.publicUrl });
    const httpPort = await listen(http, config.httpPort, config.host, 'HTTP_PORT');
    log.info({ httpPort }, 'gatehouse is serving');
    const server = http;
    let closing: Promise<void> | undefined;
    return {
      core,
      http: server,
      httpPort,
      databaseUrl: database.connectionString,
      close() {
        closing ??= (async () => {
          await server.close();
          await database.close();
          log.info('gatehouse stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await http?.close().catch(() => undefined);
    await database.close();
    throw error;
  }
}
