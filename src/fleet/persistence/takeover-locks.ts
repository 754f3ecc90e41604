import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { DropChannel, DropRequest } from './drop-channel.js';
import { lockKey, tenantKeyPrefix } from './keys.js';

/** A connection as the lock sees it: aedes's Client fits. */
export type LockedConnection = {
  close(): void;
  conn: { destroyed: boolean; once(event: 'close', listener: () => void): unknown };
  /** aedes: true from CONNECT until its CONNACK was sent (or the connect failed), then 'connected' is emitted. */
  connecting?: boolean;
  once?(event: 'connected', listener: () => void): unknown;
};

export type TakeoverOptions = {
  /** How long a lock outlives its node: a crashed node's client ids are free again after this. */
  ttlMs: number;
  /** How long a new connection waits for the holder to let go before it is refused (CONNACK 3). */
  waitMs: number;
  /** How often a waiting connection looks again. */
  pollMs: number;
};

export const DEFAULT_TAKEOVER: TakeoverOptions = { ttlMs: 10_000, waitMs: 11_000, pollMs: 20 };

const REASK_MS = 1_000;

/** The holder's value is `<nodeId>|<token>`: the node to ask, and which of its connections. */
const SEPARATOR = '|';

/** Deletes the lock only if it is still this value (a lock that expired and was taken again is not ours to end). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Extends the lock if it is still this value, takes it again if it expired meanwhile (a Redis restart), else 0: lost. */
const RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

type Holding = { key: string; value: string; connection: LockedConnection; released: boolean };

export class TakeoverRefused extends Error {}

/**
 * One connection per client id fleet-wide. A connection takes its client id's
 * lock (`SET gh:{<tenant>}:lock:<id> <node>|<token> NX PX ttl`) before aedes
 * answers its CONNECT; while another connection holds it, the holder's node is
 * asked to close that connection (DropChannel) and the new one waits, bounded,
 * for the release. The old connection is therefore closed before the new one
 * is served. Locks are renewed together while their connections last and
 * released (compare-and-delete) when they close; a crashed node's locks expire
 * after `ttlMs`. Wills follow the lock (redis-tenant-persistence.ts).
 */
export class TakeoverLocks {
  private readonly held = new Map<string, Holding>();
  /** Releases under way: awaited by close(), so a node that stops leaves no lock to expire. */
  private readonly releasing = new Set<Promise<unknown>>();
  private renewSha: string | undefined;
  private renewing: NodeJS.Timeout | undefined;
  private renewFailedLogged = false;

  constructor(
    private readonly redis: Redis,
    private readonly channel: DropChannel,
    readonly nodeId: string,
    private readonly log: Logger,
    private readonly options: TakeoverOptions = DEFAULT_TAKEOVER,
  ) {
    if (nodeId.includes(SEPARATOR)) throw new Error(`a node id may not hold ${SEPARATOR}`);
  }

  /** Client ids this node holds. */
  get holding(): number {
    return this.held.size;
  }

  async start(): Promise<void> {
    await this.channel.listen(this.nodeId, (request) => this.drop(request));
    this.renewSha = (await this.redis.script('LOAD', RENEW)) as string;
    this.renewing = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.options.ttlMs / 3)));
    this.renewing.unref();
  }

  /** After the node's connections have closed: their releases are awaited, then the channel closes. */
  async close(): Promise<void> {
    clearInterval(this.renewing);
    await Promise.all(this.releasing);
    await this.channel.close();
  }

  /**
   * Resolves once `clientId` is this connection's alone fleet-wide; rejects
   * with TakeoverRefused when the holder did not let go within `waitMs`. The
   * lock is released when the connection's stream closes.
   */
  async lock(tenantId: string, clientId: string, connection: LockedConnection): Promise<void> {
    try {
      await this.take(tenantId, clientId, connection);
    } catch (error) {
      this.log.info({ tenantId, clientId, err: error }, 'CONNECT refused (server unavailable): its client id could not be taken over in time');
      throw error;
    }
  }

  private async take(tenantId: string, clientId: string, connection: LockedConnection): Promise<void> {
    const key = tenantKeyPrefix(tenantId) + lockKey(clientId);
    const value = `${this.nodeId}${SEPARATOR}${randomUUID()}`;
    const deadline = Date.now() + this.options.waitMs;
    let asked: string | undefined;
    let askedAt = 0;
    for (;;) {
      if (connection.conn.destroyed) throw new TakeoverRefused('the connection closed while it waited for its client id');
      const taken = await beforeDeadline(this.redis.set(key, value, 'PX', this.options.ttlMs, 'NX'), deadline);
      if (taken === 'OK') break;
      const holder = await beforeDeadline(this.redis.get(key), deadline);
      // Pub/sub is at most once: a holder still there a second later is asked again.
      if (holder !== null && (holder !== asked || Date.now() - askedAt >= REASK_MS)) {
        asked = holder;
        askedAt = Date.now();
        await this.ask(tenantId, clientId, holder);
      }
      if (Date.now() + this.options.pollMs > deadline) throw new TakeoverRefused(`client id ${clientId} is still held by ${holder ?? 'another connection'}`);
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
    }
    const holding: Holding = { key, value, connection, released: false };
    this.held.set(key, holding);
    connection.conn.once('close', () => void this.release(holding));
    if (connection.conn.destroyed) await this.release(holding);
  }

  /** Asks the holder's node (this one, or another over the channel) to close the holding connection. */
  private async ask(tenantId: string, clientId: string, holder: string): Promise<void> {
    const nodeId = holder.slice(0, holder.lastIndexOf(SEPARATOR));
    const request: DropRequest = { tenantId, clientId, holder };
    if (nodeId === this.nodeId) this.drop(request);
    else await this.channel.ask(nodeId, request).catch((error: unknown) => this.log.warn({ err: error, tenantId, clientId, holder: nodeId }, 'could not ask the node holding a client id to let go'));
  }

  private drop(request: DropRequest): void {
    const holding = this.held.get(tenantKeyPrefix(request.tenantId) + lockKey(request.clientId));
    if (!holding || holding.value !== request.holder) return;
    this.log.debug({ tenantId: request.tenantId, clientId: request.clientId }, 'client id taken over by a new connection: closing this one');
    closeOnceConnected(holding.connection);
  }

  private async release(holding: Holding): Promise<void> {
    if (holding.released) return;
    holding.released = true;
    if (this.held.get(holding.key) === holding) this.held.delete(holding.key);
    // Unreleased (Redis unreachable), the lock expires after ttlMs.
    const released = this.redis.eval(RELEASE, 1, holding.key, holding.value).catch(() => undefined);
    this.releasing.add(released);
    await released;
    this.releasing.delete(released);
  }

  /** Every lock of this node in one pipeline; a connection whose lock another took meanwhile is closed. */
  private async renew(): Promise<void> {
    const holdings = [...this.held.values()];
    if (holdings.length === 0) return;
    const pipeline = this.redis.pipeline();
    // By its SHA: renewing ten thousand locks should not send the script ten thousand times.
    for (const holding of holdings) pipeline.evalsha(this.renewSha!, 1, holding.key, holding.value, this.options.ttlMs);
    const results = await pipeline.exec().catch((error: unknown) => [[error as Error, null] as [Error, null]]);
    const failure = results?.find(([error]) => error)?.[0];
    if (failure) {
      // A Redis that restarted has forgotten the script: loaded again for the next round.
      if (/NOSCRIPT/.test(failure.message)) this.renewSha = (await this.redis.script('LOAD', RENEW).catch(() => this.renewSha)) as string;
      if (!this.renewFailedLogged) this.log.warn({ err: failure }, 'takeover locks could not be renewed; local clients keep being served');
      this.renewFailedLogged = true;
      return;
    }
    if (this.renewFailedLogged) this.log.info('takeover locks renewed again');
    this.renewFailedLogged = false;
    results?.forEach(([, kept], i) => {
      const holding = holdings[i]!;
      if (kept === 0 && !holding.released && this.held.get(holding.key) === holding) {
        this.log.info({ key: holding.key }, 'client id taken by another connection while this node could not renew: closing this one');
        closeOnceConnected(holding.connection);
      }
    });
  }
}

/**
 * aedes goes on with a CONNECT it has started even when its client is closed
 * meanwhile, and would then register the closed client as connected: a
 * connection still in its CONNECT is closed once that is done (its stream
 * closing ends the wait too: the lock is released then).
 */
function closeOnceConnected(connection: LockedConnection): void {
  if (connection.connecting === true && connection.once) connection.once('connected', () => connection.close());
  else connection.close();
}

async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TakeoverRefused('Redis did not answer in time for the takeover lock')), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
