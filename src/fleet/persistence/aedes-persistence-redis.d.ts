// aedes-persistence-redis ships no types; its async store has the memory store's methods (aedes-persistence's types).
declare module 'aedes-persistence-redis/asyncPersistence.js' {
  import MemoryPersistence from 'aedes-persistence/types/asyncPersistence.js';
  import type { Redis } from 'ioredis';
  export default class AsyncRedisPersistence extends MemoryPersistence {
    constructor(options: { conn: Redis; maxSessionDelivery?: number; packetTTL?: (packet: unknown) => number });
  }
}
