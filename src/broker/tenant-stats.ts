import type { Aedes } from 'aedes';

const STATS_INTERVAL_MS = 10_000;

/**
 * `$SYS` statistics of one tenant's broker, for its app credentials. They are
 * published only while the tenant has clients: an idle tenant costs no timer.
 * Retained, as mosquitto does, so a new subscriber sees them at once; the
 * tenant's store drops them with the instance they describe (tenant-store.ts).
 */
export function publishStatistics(broker: Aedes): void {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const publish = () => {
    const stats: Record<string, string> = {
      '$SYS/broker/clients/connected': String(broker.connectedClients),
      '$SYS/broker/uptime': String(Math.floor((Date.now() - started) / 1000)),
    };
    for (const [topic, value] of Object.entries(stats)) {
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(value), qos: 0, retain: true, dup: false }, () => undefined);
    }
  };
  broker.on('client', () => {
    if (timer) return;
    publish();
    timer = setInterval(publish, STATS_INTERVAL_MS).unref();
  });
  const stop = () => {
    clearInterval(timer);
    timer = undefined;
  };
  broker.on('clientDisconnect', () => broker.connectedClients === 0 && stop());
  broker.once('closed', stop);
}
