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

/** How long an info line may wait in the buffer: a quiet gateway's lines reach the file within this. */
const FLUSH_INTERVAL_MS = 100;
/** error and fatal: written before the call returns, so a crash right after cannot lose them. */
const SYNC_LEVEL = 50;

type Flushable = { flushSync?(): void };

/**
 * JSON logs go through a buffered, asynchronous destination so that logging
 * never blocks a hot path, but nothing waits there long: the buffer is
 * flushed every 100 ms, error and fatal lines are written synchronously, and
 * pino writes what is left when the process exits. `flushLogsSync` writes it
 * at once (after "serving", before a deliberate exit).
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, fd: 1 | 2 = 1, destination?: NodeJS.WritableStream): Logger {
  const options = { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } };
  if (destination) return pino(options, destination);
  if (config.logFormat === 'pretty') {
    return pino(options, pretty({ destination: fd, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l' }));
  }
  const stream = pino.destination({ fd, sync: false, minLength: 4096 });
  const flushSync = () => flushQuietly(() => stream.flushSync());
  setInterval(() => flushQuietly(() => stream.flush()), FLUSH_INTERVAL_MS).unref();
  return pino({
    ...options,
    hooks: {
      logMethod(args, method, level) {
        method.apply(this, args);
        if (level >= SYNC_LEVEL) flushSync();
      },
    },
  }, stream);
}

/** Writes whatever the logger's destination still buffers, before returning. */
export function flushLogsSync(log: Logger): void {
  const stream = (log as unknown as Record<symbol, Flushable>)[pino.symbols.streamSym];
  flushQuietly(() => stream?.flushSync?.());
}

/** A destination being closed at exit refuses to flush; pino writes its last lines itself then. */
function flushQuietly(flush: () => void): void {
  try {
    flush();
  } catch {
    // see above
  }
}
