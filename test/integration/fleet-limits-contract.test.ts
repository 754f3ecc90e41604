import { Redis } from 'ioredis';
import { FailureLimiter, type FailureLimits, type LimitRule } from '../../src/auth/failure-limiter.js';
import { isGatewayError } from '../../src/core/errors.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localConnectRate, redisConnectRate, type ConnectRate } from '../../src/fleet/limits/connect-rate.js';
import { LocalConnectionSlots, type ConnectionSlots } from '../../src/fleet/limits/connection-slots.js';
import { RedisConnectionSlots } from '../../src/fleet/limits/redis-connection-slots.js';
import { LOCKOUT_PREFIX, RedisFailureLimits } from '../../src/fleet/limits/redis-failure-limits.js';
import { RedisTenantRates } from '../../src/fleet/limits/redis-tenant-rates.js';
import { LocalTenantRates, type TenantRateLimits, type TenantRates } from '../../src/fleet/limits/tenant-rates.js';
import { silentLog } from '../support/database.js';
import { waitFor } from '../support/processes.js';
import { describeWithRedis, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * One suite for both implementations of each limit (in memory: a fleet of one
 * node; Redis: two nodes, each on its own connection as two processes would
 * be), then what only a fleet must show: a dead node's slots run out, Redis
 * restarted empty is corrected, every key is under its tenant's prefix, and a
 * PUBLISH costs no Redis call.
 */
type Node = { slots: ConnectionSlots; rates: TenantRates; connects: ConnectRate; settle(): Promise<void> };
type Fleet = { nodes: [Node, Node]; close(): Promise<void> };
type FleetOptions = { capPerCredential: number; rates: TenantRateLimits; connectsPerWindow: number; now: () => number };
const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

function limitsContract(name: string, start: (options: FleetOptions) => Promise<Fleet>) {
  describe(name, () => {
    let fleet: Fleet | undefined;
    let now = 1_000_000;
    const startFleet = async (options: Partial<FleetOptions> = {}) =>
      (fleet = await start({ capPerCredential: 3, rates: { messagesPerSecond: 0, bytesPerSecond: 0 }, connectsPerWindow: 0, now: () => now, ...options }));
    afterEach(async () => {
      await fleet?.close();
      fleet = undefined;
    });

    it('a credential holds its cap of connections across the nodes; a slot released is taken again', async () => {
      const [a, b] = (await startFleet()).nodes;
      const held = [await a.slots.take(T1, 'lamp'), await a.slots.take(T1, 'lamp'), await b.slots.take(T1, 'lamp')];
      expect(held.every(Boolean)).toBe(true);
      expect(await b.slots.take(T1, 'lamp')).toBeUndefined();
      expect(await a.slots.take(T1, 'lamp')).toBeUndefined();
      held[0]!.release();
      held[0]!.release(); // once only
      expect(await b.slots.take(T1, 'lamp')).toBeDefined();
      expect(await a.slots.take(T1, 'lamp')).toBeUndefined();
    });

    it('the same credential id in another tenant has slots of its own', async () => {
      const [a, b] = (await startFleet({ capPerCredential: 1 })).nodes;
      expect(await a.slots.take(T1, 'shared-id')).toBeDefined();
      expect(await b.slots.take(T2, 'shared-id')).toBeDefined();
      expect(await b.slots.take(T1, 'shared-id')).toBeUndefined();
    });

    it('a tenant\'s messages per second hold across the nodes once settled; another tenant and the next second are free', async () => {
      const [a, b] = (await startFleet({ rates: { messagesPerSecond: 5, bytesPerSecond: 0 } })).nodes;
      expect([1, 2, 3].map(() => a.rates.take(T1, 10))).toEqual([true, true, true]);
      await a.settle();
      // A node learns a tenant's fleet-wide count at the first settlement after it has seen the tenant.
      expect(b.rates.take(T1, 10)).toBe(true);
      await b.settle();
      expect([1, 2].map(() => b.rates.take(T1, 10))).toEqual([true, false]);
      await b.settle();
      await a.settle();
      expect(a.rates.take(T1, 10)).toBe(false);
      expect(a.rates.take(T2, 10)).toBe(true);
      now += 1_000;
      expect(a.rates.take(T1, 10)).toBe(true);
    });

    it('a tenant\'s bytes per second hold across the nodes once settled', async () => {
      const [a, b] = (await startFleet({ rates: { messagesPerSecond: 0, bytesPerSecond: 1_000 } })).nodes;
      expect(a.rates.take(T1, 700)).toBe(true);
      await a.settle();
      expect(b.rates.take(T1, 100)).toBe(true);
      await b.settle();
      expect(b.rates.take(T1, 400)).toBe(false);
      expect(b.rates.take(T1, 200)).toBe(true);
    });

    it('a credential\'s CONNECTs per window hold across the nodes (rate-limiter-flexible)', async () => {
      const [a, b] = (await startFleet({ connectsPerWindow: 3 })).nodes;
      expect([await a.connects.allow(T1, 'lamp'), await b.connects.allow(T1, 'lamp'), await a.connects.allow(T1, 'lamp')]).toEqual([true, true, true]);
      expect(await b.connects.allow(T1, 'lamp')).toBe(false);
      expect(await b.connects.allow(T2, 'lamp')).toBe(true);
    });
  });
}

const RULES: Record<string, LimitRule> = { mqtt: { maxFailures: 3, windowMs: 60_000, lockMs: 60_000 }, ip: { maxFailures: 5, windowMs: 60_000, lockMs: 60_000 } };

/** The refusal of a locked key, or undefined when it is allowed. */
async function refusal(limits: FailureLimits, keys: string[]): Promise<{ code: string; retryAfterSeconds: number } | undefined> {
  try {
    await limits.assertAllowed(keys);
    return undefined;
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    return { code: error.code, retryAfterSeconds: (error.details as { retryAfterSeconds: number }).retryAfterSeconds };
  }
}

/** Brute-force lockouts, for each implementation: two nodes' failures add up, a lock holds on both, a success before it forgets. */
function lockoutContract(name: string, start: (onLockout: (key: string) => void) => Promise<[FailureLimits, FailureLimits]>) {
  describe(name, () => {
    it('failures on two nodes add up to a lockout, told once, refused on both nodes; other keys are served', async () => {
      const told: string[] = [];
      const [a, b] = await start((key) => told.push(key));
      expect(await a.recordFailure(['mqtt:lamp', 'ip:10.0.0.1'])).toEqual([]);
      expect(await b.recordFailure(['mqtt:lamp'])).toEqual([]);
      expect(await refusal(a, ['mqtt:lamp'])).toBeUndefined();
      expect(await b.recordFailure(['mqtt:lamp', 'ip:10.0.0.1'])).toEqual(['mqtt:lamp']);
      expect(await a.recordFailure(['mqtt:lamp'])).toEqual([]); // already locked: not locked again
      expect(told).toEqual(['mqtt:lamp']);
      for (const node of [a, b]) {
        const refused = await refusal(node, ['mqtt:lamp', 'ip:10.0.0.2']);
        expect(refused?.code).toBe('RATE_LIMITED');
        expect(refused!.retryAfterSeconds).toBeGreaterThan(0);
        expect(refused!.retryAfterSeconds).toBeLessThanOrEqual(60);
      }
      expect(await refusal(a, ['mqtt:fan', 'ip:10.0.0.1'])).toBeUndefined(); // 2 of the address's 5
      await a.recordSuccess('mqtt:lamp');
      expect((await refusal(b, ['mqtt:lamp']))?.code).toBe('RATE_LIMITED'); // a success does not lift a lock
    });

    it('a success before the lock forgets the key\'s failures', async () => {
      const [a, b] = await start(() => undefined);
      await a.recordFailure(['mqtt:door']);
      await b.recordFailure(['mqtt:door']);
      await b.recordSuccess('mqtt:door');
      expect(await a.recordFailure(['mqtt:door'])).toEqual([]);
      expect(await a.recordFailure(['mqtt:door'])).toEqual([]);
      expect(await refusal(b, ['mqtt:door'])).toBeUndefined();
    });
  });
}

lockoutContract('brute-force lockouts in memory (one node: src/auth\'s FailureLimiter)', async (onLockout) => {
  const limiter = new FailureLimiter(RULES, onLockout);
  return [limiter, limiter];
});

limitsContract('fleet limits in memory (one node)', async ({ capPerCredential, rates, connectsPerWindow, now }) => {
  const node: Node = {
    slots: new LocalConnectionSlots(capPerCredential),
    rates: new LocalTenantRates(rates, now),
    connects: localConnectRate(connectsPerWindow, 60),
    settle: async () => undefined,
  };
  return { nodes: [node, node], close: async () => undefined };
});

describeWithRedis('fleet limits over a real redis-server', () => {
  let server: RedisServer;
  let admin: Redis;
  const connections: Redis[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
  });
  afterEach(async () => {
    await admin.flushall();
  });
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    admin?.disconnect();
    await server?.close();
  });
  /** A node's connection as the seam makes it: commands fail at once while Redis is away. */
  const connection = async () => {
    const redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, enableAutoPipelining: true, lazyConnect: true });
    await redis.connect();
    connections.push(redis);
    return redis;
  };
  const redisNode = async (options: FleetOptions, lifetimeMs = 60_000) => {
    const redis = await connection();
    const slots = new RedisConnectionSlots(redis, { limit: options.capPerCredential, lifetimeMs }, silentLog);
    // Settled by the test (a timer every minute never fires), on the test's clock.
    const rates = new RedisTenantRates(redis, { ...options.rates, settleMs: 60_000, now: options.now }, silentLog);
    const node = { slots, rates, connects: redisConnectRate(redis, options.connectsPerWindow, 60), settle: () => rates.settle() };
    return { node, redis, close: async () => {
      await rates.close();
      await slots.close();
    } };
  };

  lockoutContract('brute-force lockouts, two nodes (rate-limiter-flexible\'s RateLimiterRedis)', async (onLockout) => {
    const [a, b] = [await connection(), await connection()];
    return [new RedisFailureLimits(a, RULES, onLockout), new RedisFailureLimits(b, RULES, onLockout)];
  });

  it('keeps lockouts under gh:lockout: (their keys name no tenant), and counts on the node alone while Redis is away', async () => {
    const redis = await connection();
    const limits = new RedisFailureLimits(redis, RULES);
    await limits.recordFailure(['mqtt:lamp', 'ip:10.0.0.9']);
    expect((await admin.keys('*')).sort()).toEqual([`${LOCKOUT_PREFIX}:ip:10.0.0.9`, `${LOCKOUT_PREFIX}:mqtt:lamp`]);
    await server.stop();
    await waitFor(async () => (redis.status !== 'ready' ? true : undefined), 5_000, 'the connection lost');
    expect(await limits.recordFailure(['mqtt:away'])).toEqual([]);
    expect(await limits.recordFailure(['mqtt:away'])).toEqual([]);
    expect(await limits.recordFailure(['mqtt:away'])).toEqual(['mqtt:away']);
    expect((await refusal(limits, ['mqtt:away']))?.code).toBe('RATE_LIMITED');
    await server.start();
    await waitFor(async () => (redis.status === 'ready' && admin.status === 'ready' ? true : undefined), 15_000, 'reconnected');
  }, 40_000);

  limitsContract('two nodes', async (options) => {
    const [a, b] = [await redisNode(options), await redisNode(options)];
    return { nodes: [a.node, b.node], close: async () => void await Promise.all([a.close(), b.close()]) };
  });

  const options: FleetOptions = { capPerCredential: 2, rates: { messagesPerSecond: 1_000_000, bytesPerSecond: 0 }, connectsPerWindow: 0, now: () => 5_000_000 };

  it('a node that dies holds its slots one lifetime at most: then another node takes them', async () => {
    const dying = await redisNode(options, 1_500);
    const living = await redisNode(options, 1_500);
    expect(await dying.node.slots.take(T1, 'lamp')).toBeDefined();
    expect(await living.node.slots.take(T1, 'lamp')).toBeDefined();
    // Killed: its connection gone, nothing released, nothing renewed.
    dying.redis.disconnect();
    await dying.node.rates.close();
    await dying.node.slots.close();
    expect(await living.node.slots.take(T1, 'lamp')).toBeUndefined();
    await waitFor(async () => (await living.node.slots.take(T1, 'lamp')) ? true : undefined, 10_000, 'the dead node\'s slot free');
    // The living node's own slots are renewed meanwhile: still two held, no third.
    expect(await living.node.slots.take(T1, 'lamp')).toBeUndefined();
    await living.close();
  });

  it('Redis restarted empty learns each node\'s count again at its next renewal', async () => {
    const a = await redisNode(options);
    const b = await redisNode(options);
    expect(await a.node.slots.take(T1, 'lamp')).toBeDefined();
    expect(await a.node.slots.take(T1, 'lamp')).toBeDefined();
    await admin.flushall();
    await (a.node.slots as RedisConnectionSlots).renew();
    expect(await b.node.slots.take(T1, 'lamp')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps every key under its tenant\'s prefix gh:{<tenant>}: and gives back a closed node\'s slots', async () => {
    const a = await redisNode({ ...options, connectsPerWindow: 10 });
    await a.node.slots.take(T1, 'lamp');
    await a.node.slots.take(T2, 'app:dash');
    a.node.rates.take(T1, 10);
    a.node.rates.take(T2, 10);
    await a.node.settle();
    await a.node.connects.allow(T1, 'lamp');
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThanOrEqual(7);
    for (const key of keys) expect(key).toMatch(new RegExp(`^gh:\\{(${T1}|${T2})\\}:(conns|rate|connect):`));
    await a.close();
    expect(await admin.keys('gh:*:conns:*')).toEqual([]);
  });

  it('counts a PUBLISH without a Redis call: thousands of messages, then one pipeline settles them', async () => {
    const a = await redisNode(options);
    const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
    const before = await commands();
    for (let i = 0; i < 5_000; i++) expect(a.node.rates.take(T1, 10)).toBe(true);
    const after = await commands();
    expect(after - before).toBe(1); // the INFO that read `before`
    await a.node.settle();
    expect(Number(await admin.get(`gh:{${T1}}:rate:5000:m`))).toBe(5_000);
    await a.close();
  });

  it('while Redis is away a node decides on its own counts, and tells Redis of them once it is back', async () => {
    const a = await redisNode(options);
    const b = await redisNode(options);
    await server.stop();
    await waitFor(async () => (a.redis.status !== 'ready' ? true : undefined), 5_000, 'the connection lost');
    expect(await a.node.slots.take(T1, 'lamp')).toBeDefined();
    expect(await a.node.slots.take(T1, 'lamp')).toBeDefined();
    expect(await a.node.slots.take(T1, 'lamp')).toBeUndefined(); // the cap still holds on this node
    await server.start();
    await waitFor(async () => (a.redis.status === 'ready' && b.redis.status === 'ready' ? true : undefined), 15_000, 'both reconnected');
    await (a.node.slots as RedisConnectionSlots).renew();
    expect(await b.node.slots.take(T1, 'lamp')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  }, 40_000);

  it('a tenant\'s messages counted while Redis is away are decided on this node and settled once it is back', async () => {
    const a = await redisNode({ ...options, rates: { messagesPerSecond: 3, bytesPerSecond: 0 } });
    await server.stop();
    await waitFor(async () => (a.redis.status !== 'ready' ? true : undefined), 5_000, 'the connection lost');
    expect([1, 2, 3, 4].map(() => a.node.rates.take(T1, 10))).toEqual([true, true, true, false]);
    await a.node.settle();
    await server.start();
    await waitFor(async () => (a.redis.status === 'ready' && admin.status === 'ready' ? true : undefined), 15_000, 'reconnected');
    await a.node.settle();
    expect(Number(await admin.get(`gh:{${T1}}:rate:5000:m`))).toBe(3);
    await a.close();
  }, 40_000);
});
