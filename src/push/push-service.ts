import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Core } from '../core/create-core.js';
import type { Logger } from '../logger.js';
import type { Registry } from 'prom-client';
import { createSender, type ProviderEndpoints, type PushCredential } from './create-sender.js';
import { DeliveryQueue } from './delivery-queue.js';
import { buildPayload } from './payloads/build-payload.js';
import { PushMetrics, providerOf } from './push-metrics.js';
import { DEFAULT_WORKER_OPTIONS, PushWorker } from './push-worker.js';
import { SenderCache } from './sender-cache.js';

function endpointsOf(config: Config['push']): ProviderEndpoints {
  const ca = config.providerCa ? [readFileSync(config.providerCa, 'utf8')] : undefined;
  const hostPort = (value: string) => ({ host: value.slice(0, value.lastIndexOf(':')), port: Number(value.slice(value.lastIndexOf(':') + 1)) });
  const apns = config.apnsEndpoint ? hostPort(config.apnsEndpoint) : undefined;
  return {
    ...(apns ? { apns: { endpoints: { sandbox: { address: apns.host, port: apns.port, ca }, production: { address: apns.host, port: apns.port, ca } } } } : {}),
    ...(config.fcmEndpoint ? { fcm: { connectTo: hostPort(config.fcmEndpoint), ca } } : {}),
  };
}

/**
 * The push side of the gateway: `workers` delivery loops over the outbox,
 * one sender per provider credential (cached, replaced when the credential
 * changes), payloads from the pure builders. Its metrics go on `registry`:
 * counted from the worker's observe hook and around each sender call, the
 * queue's depth read at scrape time (also with no workers in this process).
 */
export function startPush(core: Core, config: Config['push'], log: Logger, registry: Registry): { stop(): Promise<void> } {
  const endpoints = endpointsOf(config);
  const senders = new SenderCache<PushCredential>((credential) => createSender(credential, endpoints));
  const queue = new DeliveryQueue(core.db);
  const pushLog = log.child({ component: 'push' });
  const metrics = new PushMetrics(registry, () => queue.depth(), (error) => pushLog.warn({ err: error }, 'could not read the push queue\'s depth for /metrics'));
  const workers = Array.from({ length: config.workers }, () => new PushWorker({
    queue, events: core.events, log: pushLog,
    senderFor: async (tenantId, platform) => {
      const opened = await core.pushCredentials.open(tenantId, providerOf(platform));
      return opened && metrics.timed(senders.get(opened), providerOf(platform));
    },
    build: buildPayload,
    credentialRefused: (tenantId, platform, reason) => core.pushCredentials.refused(tenantId, providerOf(platform), reason),
    observe: (delivery, outcome, settlement) => metrics.observe(delivery, outcome, settlement),
  }, { ...DEFAULT_WORKER_OPTIONS, pauseMs: config.pauseMs, leaseMs: config.leaseMs }));
  for (const worker of workers) worker.start();
  return {
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop()));
      await senders.closeAll();
    },
  };
}
