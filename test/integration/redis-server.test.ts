import { Redis } from 'ioredis';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, startRedisServer, type RedisServer } from '../support/redis-server.js';

describeWithRedis('the test redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.close());

  it('serves on its own port and keeps nothing across a restart (no RDB, no AOF)', async () => {
    const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await client.connect();
    await client.set('k', 'v');
    client.disconnect();
    await server.stop();
    await server.start();
    const again = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await again.connect();
    expect(await again.get('k')).toBeNull();
    expect(await again.config('GET', 'save')).toEqual(['save', '']);
    const dir = (await again.config('GET', 'dir'))[1]!;
    expect(await readdir(dir)).toEqual([]);
    again.disconnect();
  });
});
