import mqtt, { type MqttClient } from 'mqtt';
import type { Socket } from 'node:net';
import { percentiles } from '../stats.js';
import { rawConnect, rawDisconnect } from './raw-connection.js';
import { now, type ConnectReport, type ConnectSpec, type PublishReport, type PublishSpec } from './spec.js';

/**
 * The load generator, in a process of its own so that its CPU is not the
 * target's: `node generator.js < spec.json` prints one JSON report.
 * Publishers and subscribers are MQTT.js clients with TCP_NODELAY on (Nagle
 * would add up to 40 ms per hop); connection storms use raw packets.
 */
async function open(url: string, credentials: { username?: string; password?: string }, clientId?: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { ...credentials, clientId, reconnectPeriod: 0, connectTimeout: 30_000, protocolVersion: 4, clean: true });
  (client.stream as Socket).setNoDelay?.(true);
  return client;
}

/**
 * DISCONNECT, then the socket ended once every byte written has left it; forced only if the target has
 * not closed after a minute. A forced end destroys the socket and with it what still waited in its
 * write buffer: QoS 0 messages the run had counted as sent and then missed in Postgres, in busy hours
 * when the target read slower than the publishers wrote.
 */
async function close(client: MqttClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      client.end(true);
      resolve();
    }, 60_000);
  });
  await Promise.race([client.endAsync(false).catch(() => undefined), forced]);
  clearTimeout(timer);
}

function payload(bytes: number, kind: PublishSpec['payloadKind'] = 'json'): (sentAt: number) => string | Buffer {
  if (kind === 'raw') {
    const fixed = Buffer.alloc(bytes, 0x61); // 'aaa…': not JSON, as mqtt-bench sends
    return () => fixed;
  }
  return (sentAt) => {
    const head = `{"t":${sentAt.toFixed(3)},"p":"`;
    return `${head}${'x'.repeat(Math.max(0, bytes - head.length - 2))}"}`;
  };
}

async function publish(spec: PublishSpec): Promise<PublishReport> {
  const latencies: number[] = [];
  const ackLatencies: number[] = [];
  let received = 0;
  let lastReceivedAt = 0;
  let subscriber: MqttClient | undefined;
  if (spec.subscriber) {
    const { url, filter: _filter, qos: _qos, ...credential } = spec.subscriber;
    subscriber = await open(url ?? spec.url, credential, `bench-sub-${process.pid}`);
    subscriber.on('message', (_topic, message) => {
      const at = now();
      received++;
      lastReceivedAt = at;
      const t = Number(/"t":([\d.]+)/.exec(message.toString('latin1'))?.[1]);
      if (t) latencies.push(at - t);
    });
    await subscriber.subscribeAsync(spec.subscriber.filter, { qos: spec.subscriber.qos });
  }
  const clients = await Promise.all(spec.publishers.map((p, i) => open(spec.url, p, `bench-pub-${process.pid}-${i}`)));
  await connected();
  const make = payload(spec.payloadBytes, spec.payloadKind);
  let sent = 0;
  let acked = 0;
  let errors = 0;
  const cpu = process.cpuUsage();
  const firstPublishAt = now();
  const interval = spec.ratePerSecond ? (1000 * clients.length) / spec.ratePerSecond : 0;

  await Promise.all(clients.map(async (client, index) => {
    const topic = spec.publishers[index]!.topic;
    const start = now();
    for (let i = 0; i < spec.messagesPerPublisher; i++) {
      if (!client.connected) {
        // Closed by the target (shed, or dropped): what it was still to send counts as errors.
        errors += spec.messagesPerPublisher - i;
        break;
      }
      if (interval > 0) {
        const due = start + i * interval;
        const wait = due - now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      sent++;
      if (spec.qos === 1) {
        try {
          const at = now();
          await client.publishAsync(topic, make(at), { qos: 1 });
          ackLatencies.push(now() - at);
          acked++;
        } catch {
          errors++;
        }
      } else {
        // Respect the socket's backpressure: write no faster than it drains.
        const stream = client.stream as Socket;
        const flushed = stream.writableNeedDrain ? new Promise((resolve) => (stream.once('drain', resolve), stream.once('close', resolve))) : undefined;
        client.publish(topic, make(now()), { qos: 0 });
        if (flushed) await flushed;
        else if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }));
  const publishersDoneAt = now();
  if (subscriber) {
    const deadline = publishersDoneAt + spec.drainTimeoutMs;
    let last = received;
    let lastChange = now();
    while (received < sent && now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (received !== last) {
        last = received;
        lastChange = now();
      } else if (now() - lastChange > 3_000) break;
    }
  }
  const used = process.cpuUsage(cpu);
  await Promise.all([...clients, ...(subscriber ? [subscriber] : [])].map(close));
  return {
    sent, acked, errors, firstPublishAt, publishersDoneAt, received, lastReceivedAt,
    // End to end when there is a subscriber, else PUBLISH → PUBACK (for Gatehouse: → committed).
    latencyMs: latencies.length > 0 ? percentiles(latencies) : ackLatencies.length > 0 ? percentiles(ackLatencies) : null,
    generatorCpuSeconds: (used.user + used.system) / 1e6,
  };
}

async function connectStorm(spec: ConnectSpec): Promise<ConnectReport> {
  const cpu = process.cpuUsage();
  const rounds: ConnectReport['rounds'] = [];
  for (let round = 0; round < spec.rounds; round++) {
    const sockets: Socket[] = [];
    let failed = 0;
    const reasons = new Map<string, number>();
    let next = 0;
    const started = now();
    await Promise.all(Array.from({ length: spec.concurrency }, async () => {
      while (next < spec.credentials.length) {
        const index = next++;
        try {
          sockets.push(await rawConnect(spec.url, spec.credentials[index]!, `storm-${process.pid}-${index}`, 30_000));
        } catch (error) {
          failed++;
          const reason = (error as Error).message;
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        }
      }
    }));
    const seconds = (now() - started) / 1000;
    rounds.push({ connected: sockets.length, failed, seconds, perSecond: Math.round(sockets.length / seconds), ...(failed > 0 ? { failures: Object.fromEntries(reasons) } : {}) });
    process.stderr.write(`round ${round} connected ${sockets.length}\n`);
    await new Promise((resolve) => setTimeout(resolve, spec.holdMs));
    await Promise.all(sockets.map(rawDisconnect));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const used = process.cpuUsage(cpu);
  return { rounds, generatorCpuSeconds: (used.user + used.system) / 1e6 };
}

/**
 * Everyone is connected (and subscribed): a runner listening on the IPC
 * channel measures from here, leaving the connects out, and says when to go.
 */
async function connected(): Promise<void> {
  if (!process.send) return;
  const go = new Promise((resolve) => process.once('message', resolve));
  process.send('ready');
  await go;
  process.disconnect();
}

// Every promise left waiting on a socket nobody will answer would end the process silently.
process.once('beforeExit', () => {
  process.stderr.write('generator: stopped with nothing left to wait for and no report (a publisher waited on a closed connection?)\n');
  process.exit(1);
});

let input = '';
for await (const chunk of process.stdin) input += chunk;
const spec = JSON.parse(input) as PublishSpec | ConnectSpec;
(spec.kind === 'connect' ? connectStorm(spec) : publish(spec)).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`generator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
