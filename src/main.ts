import type { AddressInfo } from 'node:net';
import { buildApi, type HttpApp } from './api/app.js';
import type { Config } from './config.js';
import { createCore, type Core } from './core/create-core.js';
import { GatewayError } from './core/errors.js';
import { openDatabase } from './db/open.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';

export type Gateway = {
  core: Core;
  http: HttpApp;
  httpPort: number;
  databaseUrl: string;
  /** Stops accepting, finishes in-flight work, closes the pool, stops the embedded server. */
  close(): Promise<void>;
};

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
  let http: HttpApp | undefined;
  try {
    const core = await createCore(database.db, config, log);
    http = await buildApi({ core, log, metrics: createMetrics(), publicUrl: config.publicUrl });
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
