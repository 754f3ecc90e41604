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

/**
 * The slots held on this node, per tenant and credential (a person's token
 * acts in one tenant per connection, and counts there, as in Redis): a Map of
 * counts, decided synchronously.
 */
export class LocalConnectionSlots implements ConnectionSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly limit: number) {}

  take(tenantId: string, credential: string): Slot | undefined {
    const credentialId = `${tenantId} ${credential}`;
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

  /** Slots this node holds for the tenant's credential. */
  count(tenantId: string, credential: string): number {
    return this.held.get(`${tenantId} ${credential}`) ?? 0;
  }

  async close(): Promise<void> {}
}
