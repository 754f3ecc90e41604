import type { Redis } from 'ioredis';

/** What a sent command looks like to this wrapper (ioredis's Command, which computes its key arguments). */
type SentCommand = { name: string; getKeys(): (string | Buffer)[]; reject(error: Error): void; promise: Promise<unknown> };

/** Commands without key arguments that touch no tenant's data (MULTI/EXEC frame a transaction of prefixed commands). */
const KEYLESS = new Set(['ping', 'echo', 'time', 'multi', 'exec', 'discard']);

/** Methods that would end, re-purpose or duplicate the shared connection: refused, or a no-op for the ends. */
const ENDS = new Set(['disconnect', 'quit', 'end']);
const REFUSED = new Set(['duplicate', 'connect', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'monitor', 'defineCommand', 'addBuiltinCommand', 'select']);

/**
 * One tenant's view of the node's shared Redis connection: every command sent
 * through it has its key arguments prefixed with `prefix`, and any command
 * that names no key (SCAN, KEYS, FLUSHDB, an EVAL with zero keys…) or a key
 * outside the prefix is refused. No connection is opened per tenant.
 *
 * The prefixing is ioredis's own `keyPrefix` (Command applies it to the
 * arguments @ioredis/commands marks as keys, including EVAL/EVALSHA's declared
 * keys, pipelines and MULTI), seen through this view's `options` only; the
 * shared connection's options stay untouched. Every command, whether sent
 * alone, from a pipeline or a transaction, reaches the socket through
 * `sendCommand`, where its keys are checked once more.
 */
export function prefixedConnection(shared: Redis, prefix: string): Redis {
  if (shared.options.keyPrefix) throw new Error('the shared connection must have no keyPrefix of its own');
  // Auto-pipelining is off for this view: an automatic pipeline is shared by every caller of the connection
  // and builds its commands with the options of whoever opened it, which would be another tenant's prefix.
  const options = Object.create(shared.options, {
    keyPrefix: { value: prefix, enumerable: true },
    enableAutoPipelining: { value: false, enumerable: true },
  }) as Redis['options'];
  const prefixBytes = Buffer.from(prefix);
  const inside = (key: string | Buffer) => (Buffer.isBuffer(key) ? key.subarray(0, prefixBytes.length).equals(prefixBytes) : key.startsWith(prefix));

  const sendCommand = (command: SentCommand, stream?: unknown) => {
    const keys = command.getKeys();
    const allowed = keys.length === 0 ? KEYLESS.has(command.name.toLowerCase()) : keys.every(inside);
    if (!allowed) {
      command.reject(new Error(`Redis command ${command.name.toUpperCase()} refused on a tenant's connection: it names no key under ${prefix}`));
      return command.promise;
    }
    return (shared.sendCommand as (command: unknown, stream?: unknown) => unknown)(command, stream);
  };

  return new Proxy(shared, {
    get(target, property, receiver) {
      if (property === 'options') return options;
      if (property === 'sendCommand') return sendCommand;
      if (typeof property === 'string') {
        if (ENDS.has(property)) return () => Promise.resolve('OK');
        if (REFUSED.has(property)) {
          return () => {
            throw new Error(`${property}() is not available on a tenant's view of the shared Redis connection`);
          };
        }
      }
      // Unbound on purpose: a command method then runs with `this` = this view, and so sees its options and sendCommand.
      return Reflect.get(target, property, receiver) as unknown;
    },
    set() {
      throw new Error('a tenant\'s view of the shared Redis connection is read-only');
    },
  });
}
