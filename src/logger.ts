import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger };

/** Everything that may carry a secret, wherever it sits in a log object. */
const REDACT = [
  'password', '*.password', 'secret', '*.secret', 'pin', '*.pin',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
  'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'connectionString', '*.connectionString', 'databaseUrl', '*.databaseUrl',
];

/**
 * JSON logs go through an asynchronous destination so that logging never
 * blocks a hot path; call `logger.flush()` before exiting.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, fd: 1 | 2 = 1, destination?: NodeJS.WritableStream): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } };
  if (destination) return pino(options, destination);
  if (config.logFormat === 'pretty') {
    return pino(options, pretty({ destination: fd, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(options, pino.destination({ fd, sync: false, minLength: 4096 }));
}
