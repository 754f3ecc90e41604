import type { Redis } from 'ioredis';

/** "Close your connection of this client id": sent to the node whose value is in the client id's takeover lock. */
export type DropRequest = { tenantId: string; clientId: string; holder: string };

/**
 * How a node asks the node holding a client id's takeover lock to close that
 * connection (takeover-locks.ts). At most once, like any pub/sub: the asker
 * waits for the lock to be released, bounded, not for an answer.
 */
export interface DropChannel {
  ask(nodeId: string, request: DropRequest): Promise<void>;
  /** Hears the requests addressed to `nodeId`; resolves once they can arrive. */
  listen(nodeId: string, onRequest: (request: DropRequest) => void): Promise<void>;
  close(): Promise<void>;
}

/** A node's own channel; the braces make it a hash tag, as every key of the fleet has. */
function channelOf(nodeId: string): string {
  return `gh:{node:${nodeId}}:drop`;
}

/**
 * DropChannel over Redis pub/sub: one channel per node (the lock names the
 * node to ask, so a node subscribes to exactly one channel, whatever the
 * number of tenants), on a subscriber connection of its own.
 */
export class RedisDropChannel implements DropChannel {
  private listening: string | undefined;

  constructor(private readonly publisher: Redis, private readonly subscriber: Redis) {}

  async ask(nodeId: string, request: DropRequest): Promise<void> {
    await this.publisher.publish(channelOf(nodeId), JSON.stringify(request));
  }

  async listen(nodeId: string, onRequest: (request: DropRequest) => void): Promise<void> {
    if (this.listening) throw new Error('this channel already listens');
    const channel = (this.listening = channelOf(nodeId));
    this.subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      let request: DropRequest;
      try {
        request = JSON.parse(message) as DropRequest;
      } catch {
        return;
      }
      if (typeof request?.tenantId === 'string' && typeof request.clientId === 'string' && typeof request.holder === 'string') onRequest(request);
    });
    await this.subscriber.subscribe(channel);
  }

  async close(): Promise<void> {
    if (this.listening) await this.subscriber.unsubscribe(this.listening).catch(() => undefined);
    this.listening = undefined;
  }
}
