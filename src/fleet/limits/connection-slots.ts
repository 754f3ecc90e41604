/** One connection's claim on its credential's cap: released once, when the connection closes. */
export type Slot = { release(): void };

/**
 * MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: how many connections one device or app
 * credential may hold at once. On a single node the count is this process's
 * (LocalConnectionSlots, below, answering at once as the front door always
 * did); in a fleet it is every node's (redis-connection-slots.ts).
 */
export interface ConnectionSlots {
  /** A slot of the credential's, or undefined when all `limit` are taken. */
  take(tenantId: string, credentialId: string): Slot | undefined | Promise<Slot | undefined>;
  close(): Promise<void>;
}

/** The slots held on this node, per credential: a Map of counts, decided synchronously. */
export class LocalConnectionSlots implements ConnectionSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly limit: number) {}

  take(_tenantId: string, credentialId: string): Slot | undefined {
    const count = this.held.get(credentialId) ?? 0;
    if (count >= this.limit) return undefined;
    this.held.set(credentialId, count + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.held.get(credentialId) ?? 1) - 1;
        if (left <= 0) this.held.delete(credentialId);
        else this.held.set(credentialId, left);
      },
    };
  }

  /** Slots this node holds for the credential (tests, and the Redis slots' fallback). */
  count(credentialId: string): number {
    return this.held.get(credentialId) ?? 0;
  }

  async close(): Promise<void> {}
}
