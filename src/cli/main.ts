import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { isGatewayError, type ErrorCode } from '../core/errors.js';
import { openDatabase } from '../db/open.js';
import { createLogger, type Logger } from '../logger.js';
import { startClock } from '../clock.js';
import { createCore, type Core } from '../core/create-core.js';
import { NoticeSender } from '../fleet/operator-notices.js';
import { startGateway } from '../main.js';
import { COMMANDS, type CommandResult, type Flags } from './commands.js';

const USAGE = `Usage: gatehouse <command> [options]

  start                    run the gateway (HTTP, MQTT, embedded PostgreSQL unless DATABASE_URL)
  migrate                  apply pending database migrations
${Object.values(COMMANDS).map((command) => `  ${command.usage.replace(/^gatehouse /, '')}`).join('\n')}

Every command accepts --json and then prints exactly one JSON object on stdout.`;

class UsageError extends Error {}

function print(json: boolean, result: CommandResult): void {
  process.stdout.write(json ? `${JSON.stringify(result.json)}\n` : `${result.text}\n`);
}

function fail(json: boolean, code: ErrorCode | 'USAGE', message: string): never {
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  process.stderr.write(`gatehouse: ${message}\n`);
  process.exit(code === 'USAGE' ? 2 : 1);
}

/** One-off commands log only warnings (on stderr), so that stdout stays the command's answer. */
function oneOffLogger(config: Config): Logger {
  const verbose = config.logLevel === 'debug' || config.logLevel === 'trace';
  return createLogger({ logFormat: config.logFormat, logLevel: verbose ? config.logLevel : 'warn' }, 2);
}

async function runStart(config: Config): Promise<void> {
  const log = createLogger(config);
  const gateway = await startGateway(config, log);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error('shutdown took too long; exiting anyway');
      log.flush();
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    gateway.close().then(
      () => log.flush(() => process.exit(0)),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        log.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The cause of a crash is the line that matters most: written (synchronously, at fatal) before the process goes.
  const crash = (error: unknown, origin: string) => {
    log.fatal({ err: error, origin }, 'gatehouse crashed');
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', (reason) => crash(reason, 'unhandledRejection'));
}

async function runOneOff(config: Config, run: (core: Core) => Promise<CommandResult>, json: boolean): Promise<void> {
  const log = oneOffLogger(config);
  const database = await openDatabase(config, log, { adoptOrphan: false, migrate: true });
  // One-off commands bind no listener and issue no tokens; should one ever, PUBLIC_URL or the configured port is the best guess.
  // A one-off command runs no automations: the gateway's runners and schedulers do.
  // What the command does is told to the running gateway (a scene's commands reach connected devices now).
  const notices = new NoticeSender(database.db, log);
  const core = await createCore(database.db, { config, log, issuer: () => config.publicUrl ?? `http://localhost:${config.httpPort}`, runAutomations: false, eventChannel: notices,
    // An automation created here computes its first firing by the clock the gateway would use.
    clock: startClock(config.clockStart) });
  try {
    print(json, await run(core));
  } finally {
    await notices.flush();
    await core.stop();
    await database.close();
    log.flush();
  }
}

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    const words = argv.filter((arg) => !arg.startsWith('-'));
    const config = loadConfig();
    if (words[0] === 'start') return await runStart(config);
    if (words[0] === 'migrate') {
      return await runOneOff(config, async () => ({ json: { migrated: true }, text: 'Migrations are up to date.' }), json);
    }
    const name = `${words[0] ?? ''} ${words[1] ?? ''}`;
    const command = COMMANDS[name];
    if (!command) throw new UsageError(words.length === 0 || argv.includes('--help') ? USAGE : `unknown command "${name.trim()}"\n\n${USAGE}`);
    let flags: Flags;
    let positionals: string[];
    try {
      const parsed = parseArgs({ args: argv, options: { ...command.options, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
      flags = parsed.values as Flags;
      positionals = parsed.positionals.slice(2);
    } catch (error) {
      throw new UsageError(`${(error as Error).message}\nusage: ${command.usage}`);
    }
    if (command.needsDatabase === false) return print(json, await command.run(undefined as never, flags, positionals));
    await runOneOff(config, (core) => command.run(core, flags, positionals), json);
  } catch (error) {
    if (error instanceof UsageError) fail(json, 'USAGE', error.message);
    if (error instanceof ConfigError) fail(json, 'CONFIG_INVALID', error.message);
    if (isGatewayError(error)) fail(json, error.code, error.message);
    // Anything else is an environment failure (a directory Postgres cannot use, a server gone): say what, without a stack trace.
    fail(json, 'INTERNAL', error instanceof Error ? error.message : String(error));
  }
}
