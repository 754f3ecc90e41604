import { describe, expect, it } from 'vitest';
import type { PushSender, SendOutcome } from '../../src/push/push-message.js';
import { ApnsSender } from '../../src/push/apns/apns-sender.js';
import { createSender } from '../../src/push/create-sender.js';
import { SenderCache } from '../../src/push/sender-cache.js';

class RecordingSender implements PushSender {
  closed = 0;
  constructor(readonly fingerprint: string) {}
  async send(): Promise<SendOutcome[]> {
    return [];
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

function cache() {
  const made: RecordingSender[] = [];
  const senders = new SenderCache<{ id: string; fingerprint: string }>((credential) => {
    const sender = new RecordingSender(credential.fingerprint);
    made.push(sender);
    return sender;
  });
  return { senders, made };
}

describe('the sender cache', () => {
  it('makes one sender per credential and keeps it', () => {
    const { senders, made } = cache();
    const a = senders.get({ id: 'acme', fingerprint: 'f1' });
    expect(senders.get({ id: 'acme', fingerprint: 'f1' })).toBe(a);
    expect(senders.get({ id: 'globex', fingerprint: 'f1' })).not.toBe(a);
    expect(made).toHaveLength(2);
  });

  it('closes the old sender when the credential changes', async () => {
    const { senders, made } = cache();
    const old = senders.get({ id: 'acme', fingerprint: 'f1' }) as RecordingSender;
    const renewed = senders.get({ id: 'acme', fingerprint: 'f2' });
    expect(renewed).not.toBe(old);
    await senders.closeAll();
    expect(old.closed).toBe(1);
    expect(made.map((s) => s.closed)).toEqual([1, 1]);
  });

  it('closes the sender of an evicted credential, and makes a new one if it comes back', async () => {
    const { senders, made } = cache();
    senders.get({ id: 'acme', fingerprint: 'f1' });
    await senders.evict('acme');
    expect(made[0]?.closed).toBe(1);
    expect(senders.size).toBe(0);
    senders.get({ id: 'acme', fingerprint: 'f1' });
    expect(made).toHaveLength(2);
  });

  it('survives a sender whose close fails', async () => {
    const senders = new SenderCache(() => ({ send: async () => [], close: async () => Promise.reject(new Error('boom')) }));
    senders.get({ id: 'acme', fingerprint: 'f1' });
    await expect(senders.closeAll()).resolves.toBeUndefined();
  });
});

describe('createSender', () => {
  it('makes the sender of the credential provider, without connecting', async () => {
    const apns = createSender({ id: 'c1', fingerprint: 'f1', provider: 'apns', signingKey: 'k', keyId: 'K', teamId: 'T', topic: 'com.acme.app' });
    expect(apns).toBeInstanceOf(ApnsSender);
    await apns.close();
  });
});
