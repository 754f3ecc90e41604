import type { Redis } from 'ioredis';

/**
 * A credential's slots fleet-wide are one hash, `gh:{<tenant>}:conns:<credential>`,
 * with one field per node: `<count>:<expires at, ms of Redis's clock>`. A node
 * renews its fields every third of their lifetime; the fields of a node that
 * died are skipped and deleted by the next take once they expire, so a dead
 * node holds its connections' slots for one lifetime at most. One field per
 * node, not one member per connection: renewing costs one command per
 * credential the node holds, whatever its number of connections.
 * Every script reads Redis's own clock (TIME), so the nodes' clocks never meet.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS[1] the hash; ARGV node, limit, lifetime (ms). 1 when a slot was taken. */
const TAKE = `${NOW}
local fields = redis.call('HGETALL', KEYS[1])
local total, mine = 0, 0
for i = 1, #fields, 2 do
  local count, expires = string.match(fields[i + 1], '^(%d+):(%d+)$')
  if count == nil or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    total = total + tonumber(count)
    if fields[i] == ARGV[1] then mine = tonumber(count) end
  end
end
if total >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], (mine + 1) .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** KEYS[1] the hash; ARGV node. One slot of the node's given back. */
const RELEASE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local count, expires = string.match(v, '^(%d+):(%d+)$')
if count == nil or tonumber(count) <= 1 then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
redis.call('HSET', KEYS[1], ARGV[1], (tonumber(count) - 1) .. ':' .. expires)
return 1`;

/** KEYS[1] the hash; ARGV node, count, lifetime (ms). The node's count as it knows it, for another lifetime. */
const RENEW = `${NOW}
if tonumber(ARGV[2]) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

export type SlotCommands = {
  ghSlotTake(key: string, node: string, limit: number, lifetimeMs: number): Promise<number>;
  ghSlotRelease(key: string, node: string): Promise<number>;
  ghSlotRenew(key: string, node: string, count: number, lifetimeMs: number): Promise<number>;
};

/** The scripts as commands of `redis` (EVALSHA, loaded on first use; pipelines take them too). */
export function slotCommands(redis: Redis): Redis & SlotCommands {
  redis.defineCommand('ghSlotTake', { numberOfKeys: 1, lua: TAKE });
  redis.defineCommand('ghSlotRelease', { numberOfKeys: 1, lua: RELEASE });
  redis.defineCommand('ghSlotRenew', { numberOfKeys: 1, lua: RENEW });
  return redis as Redis & SlotCommands;
}
