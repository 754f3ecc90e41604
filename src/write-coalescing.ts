import type { Duplex } from 'node:stream';

/**
 * aedes writes every packet on its own (mqtt-packet corks only until the next
 * tick), so a subscriber fed by many publishers costs one writev system call
 * per message; ioredis writes every command on its own unless it pipelines
 * automatically, which a tenant's prefixed view of a connection cannot
 * (fleet/persistence/prefixed-connection.ts), so a session resumed from Redis
 * cost a system call per command. Holding the connection corked from its
 * first write in a turn of the event loop until that turn's check phase sends
 * everything the turn produced for it in one call, at the price of at most one
 * turn's delay.
 */
export function coalesceWrites(stream: Duplex): void {
  let corked = false;
  const release = () => {
    corked = false;
    if (!stream.destroyed) stream.uncork();
  };
  const write = stream.write;
  stream.write = function coalescedWrite(this: Duplex, ...args: Parameters<Duplex['write']>) {
    if (!corked && !stream.destroyed) {
      corked = true;
      stream.cork();
      setImmediate(release);
    }
    return write.apply(this, args);
  } as Duplex['write'];
}
