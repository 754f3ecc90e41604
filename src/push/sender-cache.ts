import type { PushSender } from './push-message.js';

/** What the cache needs of a credential: its id, and a fingerprint that changes when its secret does. */
export type CachedCredential = { id: string; fingerprint: string };

/**
 * One sender per provider credential (never a global client: each tenant
 * brings its own key). A credential seen again with another fingerprint has
 * changed: its old sender is closed and a new one made; `evict` closes the
 * sender of a removed credential.
 */
export class SenderCache<C extends CachedCredential> {
  private readonly senders = new Map<string, { fingerprint: string; sender: PushSender }>();
  private readonly closing = new Set<Promise<void>>();

  constructor(private readonly create: (credential: C) => PushSender) {}

  get(credential: C): PushSender {
    const cached = this.senders.get(credential.id);
    if (cached?.fingerprint === credential.fingerprint) return cached.sender;
    if (cached) this.retire(cached.sender);
    const sender = this.create(credential);
    this.senders.set(credential.id, { fingerprint: credential.fingerprint, sender });
    return sender;
  }

  /** Closes the sender of a credential that was removed. */
  async evict(credentialId: string): Promise<void> {
    const cached = this.senders.get(credentialId);
    this.senders.delete(credentialId);
    if (cached) await this.retire(cached.sender);
  }

  get size(): number {
    return this.senders.size;
  }

  /** Closes every sender, and waits for those being closed already. */
  async closeAll(): Promise<void> {
    const all = [...this.senders.values()];
    this.senders.clear();
    await Promise.all([...all.map(({ sender }) => this.retire(sender)), ...this.closing]);
  }

  private retire(sender: PushSender): Promise<void> {
    // A close that fails leaves nothing to do but forget the sender.
    const closed = sender.close().catch(() => undefined);
    this.closing.add(closed);
    void closed.finally(() => this.closing.delete(closed));
    return closed;
  }
}
