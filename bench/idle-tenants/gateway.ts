import { Aedes } from 'aedes';
import { hashSecret } from '../../src/auth/secrets.js';
import { TenantBrokers } from '../../src/broker/tenant-brokers.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startGateway } from '../../src/main.js';
import { PASSWORD, type Reply, type Request, type Sample } from './protocol.js';

/**
 * The gateway under measurement, in a process of its own (run with
 * --expose-gc): the generator's sockets and buffers stay out of its heap.
 * It provisions the tenants itself and answers the parent's requests.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

// The gateway does not expose its tenant brokers; the first hand-off shows them.
const seen = new Set<TenantBrokers>();
const handOff = TenantBrokers.prototype.handOff;
TenantBrokers.prototype.handOff = function (this: TenantBrokers, ...args: Parameters<typeof handOff>) {
  seen.add(this);
  return handOff.apply(this, args);
};

// Instances the collector has freed: a released instance that something still holds would not be among them.
let collected = 0;
const collector = new FinalizationRegistry(() => collected++);
const createBroker = Aedes.createBroker.bind(Aedes);
Aedes.createBroker = async (...args: Parameters<typeof createBroker>) => {
  const broker = await createBroker(...args);
  collector.register(broker, undefined);
  return broker;
};

/** Instances alive: this code's count, or the size of the map the code before idle release kept. */
function instances(): number | undefined {
  const [brokers] = seen;
  if (!brokers) return undefined;
  const counted = (brokers as { tenantsRunning?: number }).tenantsRunning;
  return counted ?? (brokers as unknown as { brokers: Map<string, unknown> }).brokers.size;
}

function sample(): Sample {
  const cpu = process.cpuUsage(); // before the collection, which is the bench's work, not the gateway's
  gc!();
  gc!();
  const memory = process.memoryUsage();
  return {
    cpuMicros: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external,
    instances: instances(), instancesCollected: collected, tenantsWithState: ([...seen][0] as { tenantsWithState?: number } | undefined)?.tenantsWithState,
  };
}

/** What an empty tenant store would cost if it were kept (this code drops it; the code before had none). */
async function emptyStoreBytes(count: number): Promise<number | undefined> {
  // Named through a variable: the code measured before idle release has no such module.
  const path = '../../src/broker/tenant-store.js';
  const module = (await import(path).catch(() => undefined)) as { TenantStore: new () => { setup(broker: { id: string }): Promise<void> } } | undefined;
  if (!module) return undefined;
  const before = sample().heapUsed;
  const kept = [];
  for (let i = 0; i < count; i++) {
    const store = new module.TenantStore();
    await store.setup({ id: String(i) });
    kept.push(store);
  }
  const bytes = (sample().heapUsed - before) / count;
  kept.length = 0;
  return Math.round(bytes);
}

async function main(): Promise<void> {
  const tenants = Number(process.argv[2]);
  const config = loadConfig({ ...process.env, HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'warn', LOG_FORMAT: 'json' });
  const gateway = await startGateway(config, createLogger(config, 2));
  // One argon2id hash for every device: hashing 10 000 secrets would take minutes.
  const hash = await hashSecret(PASSWORD);
  await gateway.core.db.withPlatform(async (tx) => {
    await tx.query(`INSERT INTO tenants (slug, name) SELECT 'idle-' || n, 'idle-' || n FROM generate_series(0, $1) AS n`, [tenants]); // and one to warm up with
    await tx.query(
      `INSERT INTO devices (tenant_id, name, username, secret_hash)
       SELECT t.id, 'sensor', 'sensor@' || t.slug, $1 FROM tenants t WHERE t.slug LIKE 'idle-%'`,
      [hash],
    );
  });
  const send = (reply: Reply) => process.send!(reply);
  process.on('message', (request: Request) => {
    void (async () => {
      if (request.cmd === 'sample') send({ cmd: 'sample', sample: sample() });
      if (request.cmd === 'empty-store') send({ cmd: 'empty-store', bytes: await emptyStoreBytes(request.count) });
      if (request.cmd === 'stop') {
        await gateway.close();
        process.exit(0);
      }
    })();
  });
  send({ cmd: 'ready', mqttPort: gateway.mqttPort });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
