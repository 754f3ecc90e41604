import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/push/delivery-queue.js';
import { PushMetrics, reasonLabel } from '../../src/push/push-metrics.js';
import { sampleValue } from '../support/metrics.js';

const delivery = (platform: 'ios' | 'android') => ({ token: { platform } }) as ClaimedDelivery;

describe('push metrics', () => {
  it('keeps the reason label to the providers\' and senders\' fixed reasons', () => {
    expect(reasonLabel({ result: 'sent' })).toBe('');
    expect(reasonLabel({ result: 'invalid-token', reason: 'Unregistered' })).toBe('Unregistered');
    expect(reasonLabel({ result: 'rejected', reason: 'UnregisteredBeforeRegistration' })).toBe('UnregisteredBeforeRegistration');
    expect(reasonLabel({ result: 'retry', reason: 'QUOTA_EXCEEDED', retryAfterMs: 60_000 })).toBe('QUOTA_EXCEEDED');
    expect(reasonLabel({ result: 'retry', reason: 'TransportError' })).toBe('TransportError');
    expect(reasonLabel({ result: 'rejected', reason: 'unbuildable: too large for 4096 bytes (notification 0193…)' })).toBe('unbuildable');
    expect(reasonLabel({ result: 'rejected', reason: 'HTTP 418' })).toBe('other');
    expect(reasonLabel({ result: 'rejected', reason: 'SomethingAppleInventsNext' })).toBe('other');
  });

  it('counts retries, invalidated tokens and dead letters from what the queue records, and reads the depth at scrape time', async () => {
    const registry = new Registry();
    let depth = { queued: 3, leased: 1, dead: 0 };
    const metrics = new PushMetrics(registry, async () => depth, () => undefined);
    metrics.observe(delivery('ios'), { result: 'retry', reason: 'TooManyRequests' }, { id: 'a', lease: 'l', state: 'queued', retryInMs: 10, reason: 'TooManyRequests', countAttempt: true });
    metrics.observe(delivery('ios'), { result: 'retry', reason: 'TooManyRequests' }, { id: 'b', lease: 'l', state: 'dead', reason: 'TooManyRequests' });
    metrics.observe(delivery('android'), { result: 'invalid-token', reason: 'UNREGISTERED' }, { id: 'c', lease: 'l', state: 'dropped', reason: 'UNREGISTERED', invalidateToken: { tokenId: 't', reason: 'UNREGISTERED' } });
    metrics.observe(delivery('ios'), { result: 'credential-failure', reason: 'InvalidProviderToken' }, { id: 'd', lease: 'l', state: 'queued', retryInMs: 0, reason: 'InvalidProviderToken', countAttempt: false });
    let text = await registry.metrics();
    expect(sampleValue(text, 'gatehouse_push_sent_total', { provider: 'apns', result: 'retry', reason: 'TooManyRequests' })).toBe(2);
    expect(sampleValue(text, 'gatehouse_push_retries_total', { provider: 'apns' })).toBe(1);
    expect(sampleValue(text, 'gatehouse_push_dead_letters_total', { provider: 'apns' })).toBe(1);
    expect(sampleValue(text, 'gatehouse_push_tokens_invalidated_total', { provider: 'fcm' })).toBe(1);
    expect(sampleValue(text, 'gatehouse_push_deliveries', { state: 'queued' })).toBe(3);
    depth = { queued: 0, leased: 0, dead: 2 };
    text = await registry.metrics();
    expect(sampleValue(text, 'gatehouse_push_deliveries', { state: 'queued' })).toBe(0);
    expect(sampleValue(text, 'gatehouse_push_deliveries', { state: 'dead' })).toBe(2);
  });

  it('answers a scrape without the depth while the database is away', async () => {
    const registry = new Registry();
    const errors: unknown[] = [];
    new PushMetrics(registry, () => Promise.reject(new Error('connection refused')), (error) => errors.push(error));
    const text = await registry.metrics();
    expect(text).not.toMatch(/^gatehouse_push_deliveries\{/m);
    expect(errors).toHaveLength(1);
  });

  it('times each sender call per provider', async () => {
    const registry = new Registry();
    const metrics = new PushMetrics(registry, async () => ({ queued: 0, leased: 0, dead: 0 }), () => undefined);
    const sender = metrics.timed({ send: async (requests) => requests.map(() => ({ result: 'sent' as const })), close: async () => undefined }, 'fcm');
    await sender.send([]);
    await sender.send([]);
    expect(sampleValue(await registry.metrics(), 'gatehouse_push_send_seconds_count', { provider: 'fcm' })).toBe(2);
  });
});
