import type { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import { limitKey } from './keys.js';
import { withinRates, type TenantRateLimits, type TenantRates } from './tenant-rates.js';

/** KEYS the second's message and byte counters; ARGV messages, bytes, lifetime (ms). The fleet's totals after adding these. */
const SETTLE = `local m = redis.call('INCRBY', KEYS[1], ARGV[1])
local b = redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {m, b}`;

type SettleCommand = { ghRateSettle(messageKey: string, byteKey: string, messages: number, bytes: number, lifetimeMs: number): Promise<[number, number]> };

/**
 * One tenant's second on this node: what the fleet had counted at the last
 * settlement (this node's settled share included), what this node sent to be
 * settled and has no answer for, and what it counted since.
 */
type Window = { second: number; fleetMessages: number; fleetBytes: number; sentMessages: number; sentBytes: number; messages: number; bytes: number };

export type RedisTenantRatesOptions = TenantRateLimits & {
  /** How often this node's counts go to Redis and the fleet's totals come back (100..250 ms). */
  settleMs: number;
  now?: () => number;
};

/**
 * Per-tenant rates across the fleet, in one-second windows: each PUBLISH is
 * decided here, on the fleet's total as last settled plus what this node
 * counted since, and the counts go to Redis every `settleMs` in one pipeline
 * per node (INCRBY under `gh:{<tenant>}:rate:<second>:…`, the fleet's totals
 * in the answer). Never a Redis call per message. The price: within one
 * settlement the other nodes' traffic is not yet seen, so a tenant may exceed
 * its rate by what the other nodes let through in `settleMs`.
 * The seconds are the nodes' clocks (kept by NTP; a second's skew shifts a
 * window, it does not lift the limit). Without Redis each node decides on what
 * it knows: the rate then holds per node.
 */
export class RedisTenantRates implements TenantRates {
  private readonly windows = new Map<string, Window>();
  private readonly redis: Redis & SettleCommand;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private settling = false;

  constructor(redis: Redis, private readonly options: RedisTenantRatesOptions, private readonly log: Logger) {
    redis.defineCommand('ghRateSettle', { numberOfKeys: 2, lua: SETTLE });
    this.redis = redis as Redis & SettleCommand;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => void this.settle(), options.settleMs);
    this.timer.unref();
  }

  take(tenantId: string, bytes: number): boolean {
    if (this.options.messagesPerSecond === 0 && this.options.bytesPerSecond === 0) return true;
    const second = Math.floor(this.now() / 1000);
    let window = this.windows.get(tenantId);
    if (!window || window.second !== second) {
      window = { second, fleetMessages: 0, fleetBytes: 0, sentMessages: 0, sentBytes: 0, messages: 0, bytes: 0 };
      this.windows.set(tenantId, window);
    }
    const messages = window.fleetMessages + window.sentMessages + window.messages + 1;
    if (!withinRates(this.options, messages, window.fleetBytes + window.sentBytes + window.bytes + bytes)) return false;
    window.messages++;
    window.bytes += bytes;
    return true;
  }

  /**
   * This node's counts since the last settlement, for every tenant active this
   * second (a tenant it counted nothing for still learns the fleet's total), in
   * one pipeline; the answers replace what the fleet had counted.
   */
  async settle(): Promise<void> {
    if (this.settling || this.windows.size === 0 || this.redis.status !== 'ready') return;
    const second = Math.floor(this.now() / 1000);
    const pipeline = this.redis.pipeline() as unknown as SettleCommand & { exec(): Promise<[Error | null, unknown][] | null> };
    const sent: [string, Window][] = [];
    for (const [tenantId, window] of this.windows) {
      if (window.second < second - 1 || (window.second < second && window.messages === 0)) {
        this.windows.delete(tenantId);
        continue;
      }
      window.sentMessages += window.messages;
      window.sentBytes += window.bytes;
      void pipeline.ghRateSettle(limitKey(tenantId, 'rate', String(window.second), 'm'), limitKey(tenantId, 'rate', String(window.second), 'b'), window.messages, window.bytes, 2_000);
      window.messages = 0;
      window.bytes = 0;
      sent.push([tenantId, window]);
    }
    if (sent.length === 0) return;
    this.settling = true;
    try {
      const answers = await pipeline.exec();
      sent.forEach(([, window], i) => {
        const [error, totals] = answers?.[i] ?? [new Error('no answer')];
        if (!error) [window.fleetMessages, window.fleetBytes] = totals as [number, number];
        else {
          // Counted again next time, so the fleet still hears of them.
          window.messages += window.sentMessages;
          window.bytes += window.sentBytes;
        }
        window.sentMessages = 0;
        window.sentBytes = 0;
      });
    } catch (error) {
      this.log.debug({ err: error }, 'settling tenant rates failed; each node decides alone until Redis answers');
      for (const [, window] of sent) {
        window.messages += window.sentMessages;
        window.bytes += window.sentBytes;
        window.sentMessages = 0;
        window.sentBytes = 0;
      }
    } finally {
      this.settling = false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}
