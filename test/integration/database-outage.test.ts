import mqtt, { type MqttClient } from 'mqtt';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitOf, freePort, gatewayEnv, runCli, spawnGateway, waitFor } from '../support/processes.js';
import { metric } from '../support/metrics.js';
import { connect, until } from '../support/mqtt.js';

/** A process and its children, from /proc (field 4 of /proc/PID/stat is the parent's pid). */
async function withChildren(parent: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) children.push(Number(entry));
  }
  return [parent, ...children];
}

/**
 * The gateway with its own embedded PostgreSQL, and that server killed,
 * stalled and kept down under it. One gateway for the file; each test leaves
 * Postgres running again.
 */
describe('a gateway whose embedded PostgreSQL dies or stalls', () => {
  let dataDir: string;
  let gateway: ReturnType<typeof spawnGateway>;
  let base: string;
  let mqttUrl: string;
  let device: { name: string; username: string; password: string };

  const postmaster = async () => {
    const lines = (await readFile(path.join(dataDir, 'pg/postmaster.pid'), 'utf8')).split('\n');
    return { pid: Number(lines[0]), port: Number(lines[3]) };
  };
  const sql = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> => {
    const credentials = JSON.parse(await readFile(path.join(dataDir, 'postgres-credentials.json'), 'utf8')) as { user: string; password: string };
    const client = new pg.Client({ host: '127.0.0.1', port: (await postmaster()).port, user: credentials.user, password: credentials.password, database: 'gatehouse' });
    await client.connect();
    try {
      return (await client.query<R>(text, params)).rows;
    } finally {
      await client.end();
    }
  };
  const readyz = async () => (await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) })).status;
  const ready = () => waitFor(async () => ((await readyz()) === 200 ? true : undefined), 30_000, '/readyz 200');
  const running = () => gateway.exitCode === null && gateway.signalCode === null;

  /**
   * Kills Postgres and keeps it down longer than the supervisor's restart: its port is held, so it cannot
   * start again until the returned function releases it.
   */
  const holdDatabaseDown = async (): Promise<() => Promise<void>> => {
    const { pid, port } = await postmaster();
    process.kill(pid, 'SIGKILL');
    const holder = net.createServer((socket) => socket.destroy());
    await waitFor(() => new Promise<true | undefined>((resolve) => {
      holder.once('error', () => resolve(undefined));
      holder.listen(port, '127.0.0.1', () => resolve(true));
    }), 10_000, 'Postgres\'s port to be free');
    return () => new Promise((resolve) => holder.close(() => resolve()));
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-outage-'));
    await chmod(dataDir, 0o755); // as root, the postgres OS user must be able to enter it
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    const env = gatewayEnv({ DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort) });
    base = `http://127.0.0.1:${httpPort}`;
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    gateway = spawnGateway(env);
    await ready();
    expect((await runCli(['tenant', 'create', 'outage', '--json'], env)).code).toBe(0);
    const created = await runCli(['device', 'create', '--tenant', 'outage', '--name', 'meter', '--json'], env);
    device = JSON.parse(created.stdout) as typeof device;
  }, 120_000);

  afterAll(async () => {
    if (gateway && running()) {
      gateway.kill('SIGTERM');
      await exitOf(gateway);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('stays up when Postgres is SIGKILLed during QoS 1 ingest, has it back, resumes ingest and stores every PUBACKed message', async () => {
    const topic = `devices/${device.name}/telemetry`;
    const clients: MqttClient[] = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      mqtt.connectAsync(mqttUrl, { username: device.username, password: device.password, clientId: `ingest-${i}`, protocolVersion: 4,
        // As a device would: a CONNACK 3 (server unavailable) during the outage is retried.
        reconnectPeriod: 100, reconnectOnConnackError: true, connectTimeout: 5_000 })));
    clients.forEach((client) => client.on('error', () => undefined)); // refused reconnects during the outage: retried
    const acknowledged = new Set<string>();
    let publishing = true;
    let stop = () => undefined as void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const publishers = clients.map(async (client, i) => {
      for (let seq = 0; publishing; seq++) {
        const published = client.publishAsync(topic, JSON.stringify({ client: i, seq }), { qos: 1 }).then(
          () => void acknowledged.add(`${i}:${seq}`),
          () => undefined, // not acknowledged: it may or may not be stored, and the client moves on
        );
        await Promise.race([published, stopped]);
      }
    });
    try {
      await until(() => acknowledged.size >= 300, 30_000, '300 acknowledged messages');
      const killed = await postmaster();
      process.kill(killed.pid, 'SIGKILL');
      await waitFor(async () => ((await postmaster()).pid !== killed.pid && (await readyz()) === 200 ? true : undefined), 30_000, 'Postgres back');
      const atRecovery = acknowledged.size;
      await until(() => acknowledged.size >= atRecovery + 300, 30_000, 'ingest to resume');
    } finally {
      publishing = false;
      stop();
      await Promise.all(clients.map((client) => client.endAsync(true)));
      await Promise.all(publishers);
    }

    expect(running(), gateway.output()).toBe(true);
    const stored = new Set((await sql<{ key: string }>(`SELECT (payload->>'client') || ':' || (payload->>'seq') AS key FROM telemetry`)).map((row) => row.key));
    const lost = [...acknowledged].filter((key) => !stored.has(key));
    expect(lost).toEqual([]);
    expect(await metric(base, 'gatehouse_embedded_postgres_restarts')).toBeGreaterThanOrEqual(1);
    expect(gateway.output()).toContain('embedded PostgreSQL is running again');
  }, 120_000);

  it('answers /readyz with 503 within 2 s while Postgres is stalled, and 200 once it resumes', async () => {
    // The postmaster and every backend (each runs in a session of its own), as a frozen host would stop them.
    const processes = await withChildren((await postmaster()).pid);
    processes.forEach((pid) => process.kill(pid, 'SIGSTOP'));
    try {
      const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE');
    } finally {
      processes.forEach((pid) => process.kill(pid, 'SIGCONT'));
    }
    await ready();
  }, 60_000);

  it('writes that a device went offline during an outage once the database is back', async () => {
    const client = await connect(mqttUrl, { username: device.username, password: device.password, clientId: 'presence' });
    const online = async () => (await sql<{ online: boolean }>('SELECT online FROM devices WHERE name = $1', [device.name]))[0]!.online;
    await waitFor(async () => ((await online()) ? true : undefined), 15_000, 'the device to read online');
    const failuresBefore = await metric(base, 'gatehouse_write_failures_total', { writer: 'device_state' });

    const release = await holdDatabaseDown();
    try {
      await client.endAsync();
      await waitFor(async () => ((await metric(base, 'gatehouse_write_failures_total', { writer: 'device_state' })) > failuresBefore ? true : undefined), 15_000, 'a failed presence write');
    } finally {
      await release();
    }
    await ready();
    await waitFor(async () => ((await online()) ? undefined : true), 15_000, 'the device to read offline');
    expect(running()).toBe(true);
  }, 90_000);

  it('stores a command result sent during an outage: no PUBACK until it is, and the device resends it', async () => {
    const [command] = await sql<{ id: string }>(
      `INSERT INTO commands (tenant_id, device_id, name, issued_by, expires_at)
       SELECT tenant_id, id, 'reboot', '{"kind":"test"}', now() + interval '10 minutes' FROM devices WHERE name = $1 RETURNING id`, [device.name]);
    const client = await mqtt.connectAsync(mqttUrl, { username: device.username, password: device.password, clientId: 'result', protocolVersion: 4, reconnectPeriod: 100, reconnectOnConnackError: true });
    client.on('error', () => undefined);
    const status = async () => (await sql<{ status: string }>('SELECT status FROM commands WHERE id = $1', [command!.id]))[0]!.status;
    try {
      const release = await holdDatabaseDown();
      let acknowledged: Promise<unknown>;
      try {
        const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
        acknowledged = client.publishAsync(`devices/${device.name}/commands/${command!.id}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 });
        await closed; // the gateway could not store it: no PUBACK, the connection is closed
      } finally {
        await release();
      }
      await acknowledged;
      expect(await status()).toBe('succeeded');
    } finally {
      await client.endAsync(true);
    }
  }, 90_000);

  // Last: it stops the file's gateway.
  it('on SIGTERM stops the PostgreSQL it runs now, not only the one it first started', async () => {
    const first = await postmaster();
    process.kill(first.pid, 'SIGKILL');
    const restarted = await waitFor(async () => {
      const now = await postmaster();
      return now.pid !== first.pid && (await readyz()) === 200 ? now : undefined;
    }, 30_000, 'Postgres restarted');
    gateway.kill('SIGTERM');
    expect(await exitOf(gateway)).toEqual({ code: 0, signal: null });
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive(restarted.pid)).toBe(false);
  }, 60_000);
});
