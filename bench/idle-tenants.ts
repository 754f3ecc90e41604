import { fork, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rawConnect, rawDisconnect } from './load/raw-connection.js';
import { PASSWORD, username, type Reply, type Request, type Sample } from './idle-tenants/protocol.js';
import { cpuSeconds, descendantsCpuSeconds } from './targets/process-stats.js';

/**
 * `npm run build && node dist/bench/idle-tenants.js [--tenants 10000] [--idle-seconds 30] [--idle-ms 5000]`
 *
 * What a tenant costs once its devices have left (issue 14): N tenants with
 * one device each, every device connected once and disconnected, then the
 * gateway's memory (RSS and heap after a full GC, against the same gateway
 * before any device connected) and its CPU over a quiet window. The gateway
 * runs in a process of its own on a fresh embedded Postgres.
 */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONCURRENCY = 32;

type Gateway = { child: ChildProcess; request(message: Request): Promise<Reply> };

async function startGateway(tenants: number, idleMs: number, dataDir: string): Promise<Gateway & { mqttPort: number }> {
  const child = fork(path.join(HERE, 'idle-tenants/gateway.js'), [String(tenants)], {
    execArgv: ['--expose-gc'],
    env: {
      ...process.env, DATA_DIR: dataDir, MQTTS_PORT: '0', MQTT_TENANT_IDLE_MS: String(idleMs),
      MQTT_MAX_CONNECTIONS: '200000', MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: '100000',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies: ((reply: Reply) => void)[] = [];
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the gateway exited (${code})`))));
  exited.catch(() => undefined);
  const ready = new Promise<Reply>((resolve) => replies.push(resolve));
  child.on('message', (reply: Reply) => replies.shift()?.(reply));
  const request = (message: Request) => {
    const reply = new Promise<Reply>((resolve) => replies.push(resolve));
    child.send(message);
    return Promise.race([reply, exited]);
  };
  const first = await Promise.race([ready, exited]);
  if (first.cmd !== 'ready') throw new Error(`unexpected ${first.cmd}`);
  return { child, request, mqttPort: first.mqttPort };
}

async function sample(gateway: Gateway): Promise<Sample> {
  const reply = await gateway.request({ cmd: 'sample' });
  if (reply.cmd !== 'sample') throw new Error(`unexpected ${reply.cmd}`);
  return reply.sample;
}

/** Each device connects (argon2id verification: the slow part) and disconnects, CONCURRENCY at a time. */
async function connectEachOnce(url: string, tenants: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let n = next++; n < tenants; n = next++) {
      const socket = await rawConnect(url, { username: username(n), password: PASSWORD }, `device-${n}`, 60_000);
      await rawDisconnect(socket);
    }
  }));
  return (performance.now() - started) / 1000;
}

/** CPU seconds of the gateway and its embedded Postgres. */
const treeCpu = (gateway: Gateway) => cpuSeconds(gateway.child.pid!) + descendantsCpuSeconds(gateway.child.pid!);
const percent = (cpuMicros: number, seconds: number) => Math.round((cpuMicros / 1e6 / seconds) * 1000) / 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const perTenant = (after: number, before: number, tenants: number) => Math.round((after - before) / tenants);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tenants: { type: 'string' }, 'idle-seconds': { type: 'string' }, 'idle-ms': { type: 'string' } } });
  const tenants = Number(values.tenants ?? 10_000);
  const idleSeconds = Number(values['idle-seconds'] ?? 30);
  const idleMs = Number(values['idle-ms'] ?? 5_000);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-idle-tenants-'));
  await chmod(dataDir, 0o755);
  const gateway = await startGateway(tenants, idleMs, dataDir);
  try {
    const url = `mqtt://127.0.0.1:${gateway.mqttPort}`;
    // One tenant more, connected first: what any first connection allocates once (mqtt-packet's 64 Ki cached
    // packet-id buffers, 6 MB; compiled code) is in the baseline, not spread over the tenants.
    for (let i = 0; i < 3; i++) await rawDisconnect(await rawConnect(url, { username: username(tenants), password: PASSWORD }, 'warm-up', 60_000));
    const baseline = await sample(gateway);
    // The same quiet window before any tenant connected: what the gateway spends idle anyway.
    const control = { start: baseline, tree: treeCpu(gateway) };
    await sleep(idleSeconds * 1000);
    const controlEnd = { sample: await sample(gateway), tree: treeCpu(gateway) };
    const connectSeconds = await connectEachOnce(url, tenants);
    const connected = await sample(gateway);
    // Until every instance is released (the code before idle release keeps them all: it only waits out the delay).
    if (connected.tenantsWithState === undefined) await sleep(idleMs);
    for (const deadline = Date.now() + idleMs + 600_000; ((await sample(gateway)).instances ?? 0) > 0 && connected.tenantsWithState !== undefined; ) {
      if (Date.now() > deadline) throw new Error('the idle tenants were not released');
      await sleep(500);
    }
    await sleep(2_000); // presence and last-seen writes behind the disconnects
    const quietStart = await sample(gateway);
    const treeStart = treeCpu(gateway);
    await sleep(idleSeconds * 1000);
    const quietEnd = await sample(gateway);
    const treeEnd = treeCpu(gateway);
    const emptyStore = await gateway.request({ cmd: 'empty-store', count: 10_000 });
    console.log(JSON.stringify({
      tenants, idleMs, connectSeconds: Math.round(connectSeconds), instancesAlive: { connected: connected.instances, idle: quietEnd.instances }, instancesCollected: quietEnd.instancesCollected,
      tenantsWithState: quietEnd.tenantsWithState,
      bytesPerIdleTenant: { rss: perTenant(quietStart.rss, baseline.rss, tenants), heapUsed: perTenant(quietStart.heapUsed, baseline.heapUsed, tenants), external: perTenant(quietStart.external, baseline.external, tenants) },
      mbTotal: { baselineRss: Math.round(baseline.rss / 1e6), idleRss: Math.round(quietStart.rss / 1e6), baselineHeap: Math.round(baseline.heapUsed / 1e6), idleHeap: Math.round(quietStart.heapUsed / 1e6) },
      idleCpuPercent: {
        seconds: idleSeconds,
        gateway: percent(quietEnd.cpuMicros - quietStart.cpuMicros, idleSeconds),
        gatewayWithPostgres: percent((treeEnd - treeStart) * 1e6, idleSeconds),
        beforeAnyConnect: { gateway: percent(controlEnd.sample.cpuMicros - control.start.cpuMicros, idleSeconds), gatewayWithPostgres: percent((controlEnd.tree - control.tree) * 1e6, idleSeconds) },
      },
      emptyStoreBytes: emptyStore.cmd === 'empty-store' ? emptyStore.bytes : undefined,
    }, null, 2));
  } finally {
    await gateway.request({ cmd: 'stop' }).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
