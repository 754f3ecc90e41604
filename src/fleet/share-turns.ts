import type { Redis } from 'ioredis';
import type { EmittedPacket, ShareTurns } from './fleet.js';

/** A node's membership of a group lasts this long unless renewed: a node that died stops being chosen within it. */
const MEMBERSHIP_MS = 15_000;
const RENEW_MS = 5_000;
/** How long a message's turn is remembered: every node with members asks within milliseconds of the others. */
const TURN_MS = 30_000;

/**
 * Sets this node's member count in the group's hash (`<count>:<expires at>`,
 * by Redis's clock), or removes it.
 * KEYS[1] the group's members; ARGV node, count, lifetime (ms).
 */
const JOIN = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if tonumber(ARGV[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
end`;

/**
 * The node whose members take a message: the first node to ask draws it, by
 * the group's turn counter over the live members of every node (a node with
 * three members takes three turns in a round); the others read the draw.
 * KEYS[1] the group's members, KEYS[2] its turn counter, KEYS[3] the message's
 * draw; ARGV the asking node (taking it when no member is live), the draw's lifetime (ms).
 */
const DRAW = `
local drawn = redis.call('GET', KEYS[3])
if drawn then return drawn end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local nodes, total = {}, 0
for i = 1, #entries, 2 do
  local count, expires = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if count and tonumber(expires) > now and tonumber(count) > 0 then
    nodes[#nodes + 1] = { entries[i], tonumber(count) }
    total = total + tonumber(count)
  end
end
drawn = ARGV[1]
if total > 0 then
  table.sort(nodes, function(a, b) return a[1] < b[1] end)
  local turn = redis.call('INCR', KEYS[2]) % total
  for _, node in ipairs(nodes) do
    if turn < node[2] then drawn = node[1] break end
    turn = turn - node[2]
  end
end
redis.call('SET', KEYS[3], drawn, 'PX', ARGV[2])
return drawn`;

type TurnCommands = Redis & {
  gatehouseShareJoin(members: string, node: string, count: number, lifetimeMs: number): Promise<unknown>;
  gatehouseShareDraw(members: string, turn: string, draw: string, node: string, lifetimeMs: number): Promise<string>;
};

/** Defines the scripts on the node's command connection (ioredis sends EVALSHA, and the script once if Redis lacks it). */
export function defineShareCommands(redis: Redis): void {
  redis.defineCommand('gatehouseShareJoin', { numberOfKeys: 1, lua: JOIN });
  redis.defineCommand('gatehouseShareDraw', { numberOfKeys: 3, lua: DRAW });
}

/**
 * A tenant's shared subscription turns over Redis, its keys under the
 * tenant's hash tag (one Cluster slot). One script call per message for each
 * node with members of the group. While Redis cannot be reached, each node's
 * members take every message (delivered more than once across the fleet,
 * never lost), as the fleet's other members fall back to the node alone.
 */
export class RedisShareTurns implements ShareTurns {
  private readonly counts = new Map<string, number>();
  private renewal: NodeJS.Timeout | undefined;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly node: string) {}

  members(group: string, count: number): void {
    if (count > 0) this.counts.set(group, count);
    else this.counts.delete(group);
    this.join(group, count);
    if (this.counts.size > 0 && !this.renewal) {
      this.renewal = setInterval(() => this.counts.forEach((n, name) => this.join(name, n)), RENEW_MS).unref();
    } else if (this.counts.size === 0) {
      clearInterval(this.renewal);
      this.renewal = undefined;
    }
  }

  mine(group: string, packet: EmittedPacket): boolean | Promise<boolean> {
    // Without aedes's id (a command published by a node without the tenant's broker) there is nothing to draw by.
    if (packet.brokerId === undefined || packet.brokerId === null) return true;
    const key = `${this.prefix}${group}`;
    return (this.redis as TurnCommands)
      .gatehouseShareDraw(key, `${key}:turn`, `${key}:m:${packet.brokerId}:${packet.brokerCounter ?? 0}`, this.node, TURN_MS)
      .then((drawn) => drawn === this.node, () => true);
  }

  close(): void {
    for (const group of this.counts.keys()) this.join(group, 0);
    this.counts.clear();
    clearInterval(this.renewal);
    this.renewal = undefined;
  }

  private join(group: string, count: number): void {
    (this.redis as TurnCommands).gatehouseShareJoin(`${this.prefix}${group}`, this.node, count, MEMBERSHIP_MS).catch(() => undefined);
  }
}
