import { Redis } from 'ioredis';
import mqttjs, { type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { COMMANDS, type Flags } from '../../src/cli/commands.js';
import { loadConfig } from '../../src/config.js';
import { createCore, type Core } from '../../src/core/create-core.js';
import { openDatabase } from '../../src/db/open.js';
import { HEADERS, sign } from '../../src/voice/alexa/forwarder-signature.js';
import { NoticeSender } from '../../src/fleet/operator-notices.js';
import { answeringDevice } from '../support/answering-device.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';
import { prng } from '../support/mqtt-fuzz.js';
import { call } from '../support/gateway.js';
import { connect, isMarker, markerAfter, markerToEach, rawStream, record, subscribe, until, withoutMarkers, type Received } from '../support/mqtt.js';
import { gatewayEnv, runCli, waitFor } from '../support/processes.js';
import { metric } from '../support/metrics.js';
import { describeWithRedis, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { spawnUrlGateway, type UrlGateway } from '../support/url-gateway.js';

const PASSWORD = 'correct horse battery';
/** Two tenants with the same device and app names, for the randomized isolation check. */
const ISOLATED = ['iso-a', 'iso-b'];
/** Set FLEET_ISOLATION_SEED to replay a run of the randomized check; the seed is printed either way. */
const ISOLATION_SEED = Number(process.env.FLEET_ISOLATION_SEED ?? Math.floor(Math.random() * 2 ** 32));
const [ALEXA_SKILL, ALEXA_SECRET] = ['amzn1.ask.skill.fleet', 'forwarder-secret-of-the-fleet-test'];
type Credential = { id: string; username: string; password: string };

/**
 * Three real `gatehouse start` processes, each on its own ports, over one
 * PostgreSQL database and one redis-server: what a fleet behind a load
 * balancer must do when a device and the people or services it serves are on
 * different nodes.
 */
describeWithRedis('several gateway nodes over one PostgreSQL and one redis-server', () => {
  let redis: RedisServer;
  let database: Awaited<ReturnType<typeof openDatabase>>;
  let nodes: UrlGateway[] = [];
  let databaseUrl: string;
  let env: Record<string, string>;
  const clients: MqttClient[] = [];
  const mqttUrl = (node: UrlGateway) => `mqtt://127.0.0.1:${node.env.MQTT_PORT}`;
  let core: Core;
  /** A `gatehouse` command run in this process on one core: what the CLI does, without a process per command. */
  const cli = async <T>(name: string, flags: Flags, args: string[] = []): Promise<T> => (await COMMANDS[name]!.run(core, flags, args)).json as T;
  const mqtt = async (node: UrlGateway, credential: Credential, clientId: string) => {
    const client = await connect(mqttUrl(node), { username: credential.username, password: credential.password, clientId, reconnectPeriod: 0 });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  /** A persistent session connecting again, recording from before its CONNACK; undefined if refused (to be retried). */
  const resume = (node: UrlGateway, credential: Credential, clientId: string) => new Promise<{ client: MqttClient; received: Received[]; sessionPresent: boolean } | undefined>((resolve) => {
    const client = mqttjs.connect(mqttUrl(node), { username: credential.username, password: credential.password, clientId, clean: false, reconnectPeriod: 0, protocolVersion: 4 });
    const received = record(client);
    client.once('connect', (connack) => resolve({ client, received, sessionPresent: connack.sessionPresent }));
    client.once('error', () => resolve(void client.end(true)));
    client.once('close', () => resolve(undefined));
  });
  const login = async (node: UrlGateway, tenant: string) => {
    const response = await call<{ access_token: string }>(node.base, 'POST', '/v1/auth/login', { body: { email: `owner@${tenant}.test`, password: PASSWORD, tenant } });
    expect(response.status).toBe(200);
    return response.body.access_token;
  };
  /** Each test's tenant: an owner, light devices and app credentials. */
  const credentials = new Map<string, Credential>();
  const provision = async (slug: string, devices: string[], apps: string[]) => {
    await cli('tenant create', {}, [slug]);
    await cli('user create', { tenant: slug, email: `owner@${slug}.test`, password: PASSWORD, role: 'owner' });
    for (const name of devices) credentials.set(`${slug}/${name}`, await cli<Credential>('device create', { tenant: slug, name, type: 'light', capability: ['power'] }));
    for (const name of apps) credentials.set(`${slug}/${name}`, await cli<Credential>('app create', { tenant: slug, name }));
  };
  const credential = (key: string) => credentials.get(key)!;

  beforeAll(async () => {
    redis = await startRedisServer();
    databaseUrl = await createEmptyDatabase();
    // A killed node is out of the fleet (its presence swept, its connection slots freed) 3 s after its last heartbeat.
    env = { REDIS_URL: redis.url, ALEXA_SMART_HOME_SECRETS: `${ALEXA_SKILL}=${ALEXA_SECRET}`, FLEET_NODE_TTL_MS: '3000' };
    // The first migrates the empty database; the others then start together.
    nodes = [await spawnUrlGateway(databaseUrl, env)];
    const config = loadConfig(gatewayEnv({ DATABASE_URL: databaseUrl }));
    database = await openDatabase(config, silentLog, { adoptOrphan: false, migrate: false });
    // As the command line does: what it does is told to the running nodes (NOTIFY).
    core = await createCore(database.db, { config, log: silentLog, issuer: () => nodes[0]!.base, runAutomations: false, eventChannel: new NoticeSender(database.db, silentLog) });
    await provision('relay', ['lamp'], ['dashboard']);
    await provision('revoke', ['fan'], []);
    await provision('command', ['lamp'], ['watcher']);
    await provision('outage', ['sensor', 'pump'], ['here', 'there']);
    await provision('sessions', ['valve', 'tap'], ['recorder']);
    await provision('operator', ['bulb'], []);
    await provision('share', ['meter'], ['worker']);
    await provision('qos', ['lamp'], ['panel']);
    await provision('kill', ['meter', 'gauge', 'valve'], ['recorder']);
    for (const tenant of ISOLATED) await provision(tenant, ['d1', 'd2'], ['watcher']);
    nodes.push(...await Promise.all([spawnUrlGateway(databaseUrl, env), spawnUrlGateway(databaseUrl, env)]));
  }, 180_000);
  afterAll(async () => {
    for (const client of clients) client.end(true);
    await Promise.all(nodes.map((node) => node.stop()));
    await core?.stop();
    await database?.close();
    await redis?.close();
  }, 60_000);

  it('a device on node 1 publishes and a subscriber on node 2 receives it, at QoS 0 and QoS 1, once each', async () => {
    const [lamp, dashboard] = [credential('relay/lamp'), credential('relay/dashboard')];
    const subscriber = await mqtt(nodes[1]!, dashboard, 'dashboard-1');
    const received = record(subscriber);
    await subscribe(subscriber, 'devices/lamp/#', 1);
    const publisher = await mqtt(nodes[0]!, lamp, 'lamp-1');
    await publisher.publishAsync('devices/lamp/telemetry', JSON.stringify({ q: 0 }), { qos: 0 });
    for (let i = 0; i < 20; i++) await publisher.publishAsync('devices/lamp/telemetry', JSON.stringify({ q: 1, i }), { qos: 1 });
    await until(() => received.length >= 21, 10_000, 'the 21 messages on node 2');
    // A duplicate of any of them, by whatever path, would be in before the marker, which follows the same one.
    await markerAfter(publisher, 'devices/lamp/events/marker', [received]);
    expect(withoutMarkers(received).map((message) => `${message.qos} ${message.payload}`)).toEqual([
      `0 ${JSON.stringify({ q: 0 })}`,
      ...Array.from({ length: 20 }, (_, i) => `1 ${JSON.stringify({ q: 1, i })}`),
    ]);
  });

  it('QoS 2 crosses nodes exactly once at QoS 2, and a retained message is there for a new subscriber on every node', async () => {
    const [lamp, panel] = [credential('qos/lamp'), credential('qos/panel')];
    const subscriber = await mqtt(nodes[1]!, panel, 'panel-q2');
    const received = record(subscriber);
    expect(await subscribe(subscriber, 'apps/orders', 2)).toEqual([2]);
    const publisher = await mqtt(nodes[0]!, panel, 'panel-q2-publisher');
    for (let n = 1; n <= 5; n++) await publisher.publishAsync('apps/orders', JSON.stringify({ n }), { qos: 2 });
    await markerAfter(publisher, 'apps/orders', [received], { qos: 2 });
    expect(withoutMarkers(received).map((message) => `${message.qos} ${message.payload}`)).toEqual([1, 2, 3, 4, 5].map((n) => `2 ${JSON.stringify({ n })}`));

    const device = await mqtt(nodes[0]!, lamp, 'lamp-retained');
    await device.publishAsync('devices/lamp/state', JSON.stringify({ on: true }), { qos: 1, retain: true });
    for (const [i, node] of nodes.entries()) {
      const late = await mqtt(node, panel, `panel-late-${i}`);
      const seen = record(late);
      await subscribe(late, 'devices/lamp/state', 1);
      await until(() => seen.length === 1, 5_000, `the retained state on node ${i + 1}`);
      expect(seen[0]).toMatchObject({ topic: 'devices/lamp/state', payload: JSON.stringify({ on: true }), retain: true });
    }
  });

  it('a QoS 2 delivery interrupted (after its PUBREL, or before its PUBREC) resumes on another node, and once completed there is never sent again', async () => {
    const [panel] = [credential('qos/panel')];
    /** A raw connection, so that the test decides which acknowledgements the client sends. */
    const raw = async (node: UrlGateway) => {
      const socket = await rawStream({ tcp: mqttUrl(node), ws: '' }, 'tcp');
      const parser = mqttPacket.parser();
      const packets: Packet[] = [];
      socket.on('data', (chunk: Buffer) => parser.parse(chunk));
      parser.on('packet', (packet) => packets.push(packet));
      const send = (packet: Parameters<typeof mqttPacket.generate>[0]) => socket.write(mqttPacket.generate(packet));
      const next = async (cmd: Packet['cmd']) => {
        await until(() => packets.some((packet) => packet.cmd === cmd), 15_000, `${cmd} on the raw connection`);
        return packets.splice(packets.findIndex((packet) => packet.cmd === cmd), 1)[0]!;
      };
      send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'panel-q2-raw', keepalive: 60, username: panel.username, password: Buffer.from(panel.password) });
      const connack = (await next('connack')) as { returnCode: number; sessionPresent: boolean };
      return { socket, packets, send, next, connack };
    };
    const shown = (packet: Packet) => `${packet.cmd} ${(packet as { payload?: Buffer }).payload?.toString() ?? ''}`;
    const accepted = async (node: UrlGateway) => waitFor(async () => {
      const session = await raw(node);
      if (session.connack.returnCode === 0) return session;
      session.socket.destroy();
      return undefined;
    }, 20_000, 'the session accepted');

    const first = await accepted(nodes[0]!);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'apps/inflight', qos: 2 }] });
    await first.next('suback');
    const publisher = await mqtt(nodes[1]!, panel, 'panel-q2-sender');
    await publisher.publishAsync('apps/inflight', 'once', { qos: 2 });
    const delivered = (await first.next('publish')) as { messageId: number; qos: number; payload: Buffer };
    expect([delivered.qos, delivered.payload.toString()]).toEqual([2, 'once']);
    first.send({ cmd: 'pubrec', messageId: delivered.messageId });
    await first.next('pubrel');
    first.socket.destroy(); // gone before its PUBCOMP

    const second = await accepted(nodes[1]!);
    expect(second.connack.sessionPresent).toBe(true);
    const pubrel = (await second.next('pubrel')) as { messageId: number };
    second.send({ cmd: 'pubcomp', messageId: pubrel.messageId });
    second.send({ cmd: 'disconnect' });
    await new Promise((resolve) => second.socket.once('close', resolve));
    expect(second.packets.filter((packet) => packet.cmd === 'publish').map(shown)).toEqual([]);

    const third = await accepted(nodes[2]!);
    expect(third.connack.sessionPresent).toBe(true);
    // A SUBSCRIBE round trip first: a message routed while aedes still reads a resumed session's queue may be sent from both (QoS 1 allows it).
    third.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'apps/inflight-marker', qos: 1 }] });
    await third.next('suback');
    await publisher.publishAsync('apps/inflight', 'marker', { qos: 1 });
    const marker = (await third.next('publish')) as { messageId: number; payload: Buffer };
    expect(marker.payload.toString()).toBe('marker');
    third.send({ cmd: 'puback', messageId: marker.messageId });
    expect(third.packets.map(shown)).toEqual([]);

    // Interrupted before its PUBREC this time: the PUBLISH itself is sent again on the next node.
    await publisher.publishAsync('apps/inflight', 'again', { qos: 2 });
    expect(((await third.next('publish')) as { payload: Buffer }).payload.toString()).toBe('again');
    third.socket.destroy();
    const fourth = await accepted(nodes[0]!);
    const resent = (await fourth.next('publish')) as { messageId: number; qos: number; payload: Buffer };
    expect([resent.qos, resent.payload.toString()]).toEqual([2, 'again']);
    fourth.send({ cmd: 'pubrec', messageId: resent.messageId });
    fourth.send({ cmd: 'pubcomp', messageId: ((await fourth.next('pubrel')) as { messageId: number }).messageId });
    fourth.send({ cmd: 'disconnect' });
    await new Promise((resolve) => fourth.socket.once('close', resolve));

    const fifth = await accepted(nodes[1]!);
    fifth.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'apps/inflight-marker', qos: 1 }] });
    await fifth.next('suback');
    await publisher.publishAsync('apps/inflight', 'last marker', { qos: 1 });
    expect(((await fifth.next('publish')) as { payload: Buffer }).payload.toString()).toBe('last marker');
    expect(fifth.packets.map(shown)).toEqual([]);
    fifth.socket.destroy();
  });

  it('a shared subscription group with members on nodes 2 and 3 takes each message from node 1 once fleet-wide, every member in turn', async () => {
    const [meter, worker] = [credential('share/meter'), credential('share/worker')];
    const members = [await mqtt(nodes[1]!, worker, 'worker-1'), await mqtt(nodes[2]!, worker, 'worker-2'), await mqtt(nodes[2]!, worker, 'worker-3')];
    const received = members.map(record);
    for (const member of members) expect(await subscribe(member, '$share/workers/devices/+/telemetry', 1)).toEqual([1]);
    // Both nodes' memberships are in Redis before the first draw, so that the turns are exact.
    const admin = new Redis(redis.url);
    try {
      await waitFor(async () => {
        const [key] = await admin.keys('gh:{*}:share:workers/devices/+/telemetry');
        return key !== undefined && (await admin.hlen(key)) === 2 ? true : undefined;
      }, 10_000, 'nodes 2 and 3 members of the group');
    } finally {
      admin.disconnect();
    }
    const publisher = await mqtt(nodes[0]!, meter, 'meter-1');
    for (let n = 1; n <= 30; n++) await publisher.publishAsync('devices/meter/telemetry', JSON.stringify({ n }), { qos: 1 });
    await markerToEach(publisher, 'devices/meter/telemetry', received, { timeoutMs: 10_000 });
    const taken = received.map((messages) => messages.filter((message) => !isMarker(message)).map((message) => JSON.parse(message.payload).n as number));
    expect(taken.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // One turn per member in each round: node 2's one member, node 3's two.
    expect(taken.map((numbers) => numbers.length)).toEqual([10, 10, 10]);
  });

  it('a device suspended through node 3 is disconnected on every node it is connected to', async () => {
    const fan = credential('revoke/fan');
    const connections = await Promise.all(nodes.slice(0, 2).map((node, i) => mqtt(node, fan, `fan-${i}`)));
    const closed = connections.map((client) => new Promise<void>((resolve) => client.once('close', () => resolve())));
    const response = await call(nodes[2]!.base, 'POST', '/v1/devices/fan/suspension', { token: await login(nodes[2]!, 'revoke'), body: { suspended: true } });
    expect(response.status).toBe(204);
    await Promise.race([Promise.all(closed), new Promise((_, reject) => setTimeout(() => reject(new Error('a connection of the suspended device is still open')), 10_000))]);
    expect(connections.every((client) => !client.connected)).toBe(true);
  });

  it('a command issued through node 2 reaches the device on node 1, and its result comes back to node 2', async () => {
    const [lamp, watcher] = [credential('command/lamp'), credential('command/watcher')];
    const answering = await answeringDevice(mqttUrl(nodes[0]!), lamp, 'lamp', { on: false });
    clients.push(answering.client);
    const token = await login(nodes[1]!, 'command');
    await waitFor(async () => (await call<{ online: boolean }>(nodes[1]!.base, 'GET', '/v1/devices/lamp', { token })).body.online || undefined, 10_000, 'the lamp online');
    // Node 2 runs no broker for this tenant: the command goes straight onto the tenant's channel.
    const first = await call<{ status: string; id: string }>(nodes[1]!.base, 'POST', '/v1/devices/lamp/commands?wait=10s', { token, body: { name: 'turn_on' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.status).toBe('succeeded');
    // Now a client of the tenant on node 2: the command goes through node 2's broker, and still reaches the lamp once.
    await mqtt(nodes[1]!, watcher, 'watcher-1');
    const second = await call<{ status: string }>(nodes[1]!.base, 'POST', '/v1/devices/lamp/commands?wait=10s', { token, body: { name: 'turn_off' } });
    expect(second.body.status).toBe('succeeded');
    expect(answering.received.map((command) => command.name)).toEqual(['turn_on', 'turn_off']);
    // Any node reads the result, stored once.
    const seen = await call<{ status: string }>(nodes[2]!.base, 'GET', `/v1/commands/${first.body.id}`, { token: await login(nodes[2]!, 'command') });
    expect(seen.body.status).toBe('succeeded');
  });

  it('a scene activated with the command line (another process) reaches the device on node 1 once, though three nodes hear of it', async () => {
    const bulb = await answeringDevice(mqttUrl(nodes[0]!), credential('operator/bulb'), 'bulb', { on: false });
    clients.push(bulb.client);
    const token = await login(nodes[1]!, 'operator');
    // The marker below is refused (409 DEVICE_OFFLINE) until the bulb's connection is recorded.
    await waitFor(async () => (await call<{ online: boolean }>(nodes[1]!.base, 'GET', '/v1/devices/bulb', { token })).body.online || undefined, 10_000, 'the bulb online');
    const scene = await cli<{ id: string }>('scene create', { tenant: 'operator', name: 'evening', command: ['bulb:turn_on'] });
    await cli('scene activate', { tenant: 'operator' }, [scene.id]);
    await waitFor(async () => bulb.received.length > 0 || undefined, 10_000, 'the scene\'s command at the bulb');
    // The marker: a command issued through node 2 after it; the bulb's next command.
    const marker = await call(nodes[1]!.base, 'POST', '/v1/devices/bulb/commands?wait=10s', { token, body: { name: 'turn_off' } });
    expect(marker.status, JSON.stringify(marker.body)).toBe(201);
    expect(bulb.received.map((command) => command.name)).toEqual(['turn_on', 'turn_off']);
  });

  it('a signed Alexa directive replayed to another node is refused there (REQUEST_REPLAYED): the replay cache is fleet-wide', async () => {
    const body = JSON.stringify({ directive: { header: { namespace: 'Alexa.Discovery', name: 'Discover', messageId: 'fleet-replay-1', payloadVersion: '3' }, payload: { scope: { type: 'BearerToken', token: 'not-a-token' } } } });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers = { [HEADERS.skill]: ALEXA_SKILL, [HEADERS.timestamp]: timestamp, [HEADERS.signature]: sign(ALEXA_SECRET, timestamp, body) };
    const first = await call(nodes[0]!.base, 'POST', '/voice/alexa/smart-home', { body, headers });
    expect(first.status).toBe(200);
    const replayed = await call<{ error: { code: string } }>(nodes[1]!.base, 'POST', '/voice/alexa/smart-home', { body, headers });
    expect([replayed.status, replayed.body.error.code]).toEqual([409, 'REQUEST_REPLAYED']);
  });

  // With the tenants' broker persistence shared through Redis (src/fleet/persistence), a QoS 1 message that reaches a
  // persistent session from another node is queued where aedes looks for it.
  it('a persistent session on node 2 receives QoS 1 messages from node 1 and stays connected (the shared persistence)', async () => {
    const [valve, recorder] = [credential('sessions/valve'), credential('sessions/recorder')];
    const subscriber = await connect(mqttUrl(nodes[1]!), { username: recorder.username, password: recorder.password, clientId: 'recorder-1', clean: false, reconnectPeriod: 0 });
    subscriber.on('error', () => undefined);
    clients.push(subscriber);
    const received = record(subscriber);
    await subscribe(subscriber, 'devices/valve/#', 1);
    const publisher = await mqtt(nodes[0]!, valve, 'valve-1');
    await publisher.publishAsync('devices/valve/telemetry', JSON.stringify({ flow: 1 }), { qos: 1 });
    await until(() => received.length === 1 || !subscriber.connected, 5_000, 'the message, or the connection dropped');
    expect(subscriber.connected).toBe(true);
    expect(received.map((message) => message.payload)).toEqual([JSON.stringify({ flow: 1 })]);
  });

  it('a device with a persistent session on node 1 gets a command issued through node 3, where its tenant has no broker', async () => {
    const tap = credential('sessions/tap');
    const device = await connect(mqttUrl(nodes[0]!), { username: tap.username, password: tap.password, clientId: 'tap-1', clean: false, reconnectPeriod: 0 });
    device.on('error', () => undefined);
    clients.push(device);
    device.on('message', (topic) => void device.publishAsync(`${topic}/result`, JSON.stringify({ status: 'ok' }), { qos: 1 }).catch(() => undefined));
    await subscribe(device, 'devices/tap/commands/+', 1);
    const token = await login(nodes[2]!, 'sessions');
    await waitFor(async () => (await call<{ online: boolean }>(nodes[2]!.base, 'GET', '/v1/devices/tap', { token })).body.online || undefined, 10_000, 'the tap online');
    const issued = await call<{ status: string }>(nodes[2]!.base, 'POST', '/v1/devices/tap/commands?wait=5s', { token, body: { name: 'turn_on' } });
    expect(device.connected).toBe(true);
    expect(issued.body.status).toBe('succeeded');
  });

  it('a randomized run over three nodes (two tenants of the same names; wildcards, $SYS, $share, retained, wills, client-id collisions): nothing crosses tenants', async () => {
    console.log(`fleet isolation seed ${ISOLATION_SEED} (FLEET_ISOLATION_SEED=${ISOLATION_SEED} replays it)`);
    const random = prng(ISOLATION_SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const FILTERS = ['#', '+/+/telemetry', 'devices/+/telemetry', 'devices/d1/#', 'devices/+/events/#', '$SYS/#', '$share/G/devices/#', '$queue/devices/+/state', '$share/G/#', 'apps/#'];
    const foreign = (tenant: string) => ISOLATED.filter((other) => other !== tenant).flatMap((other) => ['d1', 'd2', 'watcher'].flatMap((name) => [credential(`${other}/${name}`).id, credential(`${other}/${name}`).username]));
    type Watcher = { tenant: string; client: MqttClient; received: Received[] };
    const watchers: Watcher[] = [];
    // Six watchers per tenant, the same client ids in both tenants on different nodes, some with persistent sessions.
    for (let i = 0; i < 12; i++) {
      const tenant = ISOLATED[i % 2]!;
      const app = credential(`${tenant}/watcher`);
      const client = await connect(mqttUrl(nodes[i % 3]!), { username: app.username, password: app.password, clientId: `collide-${i >> 1}`, clean: random() < 0.5 });
      client.on('error', () => undefined);
      clients.push(client);
      const received = record(client);
      // A shared group of its own (it is the only member), so that every message of the group reaches it.
      const filters = [pick(FILTERS), pick(FILTERS), 'markers/#'].map((filter) => filter.replace('G', `g${i}`));
      await subscribe(client, filters, 1);
      watchers.push({ tenant, client, received });
    }
    const devices = new Map<string, MqttClient>();
    for (const tenant of ISOLATED) {
      for (const name of ['d1', 'd2']) {
        const device = credential(`${tenant}/${name}`);
        const client = await connect(mqttUrl(pick(nodes)), { username: device.username, password: device.password, clientId: `dev-${name}` });
        client.on('error', () => undefined);
        clients.push(client);
        devices.set(`${tenant}/${name}`, client);
      }
    }
    let sent = 0;
    for (let op = 0; op < 2_000; op++) {
      const tenant = pick(ISOLATED);
      const payload = () => JSON.stringify({ tenant, n: ++sent });
      const roll = random();
      if (roll < 0.7) {
        const name = pick(['d1', 'd2']);
        const topic = pick([`devices/${name}/telemetry`, `devices/${name}/state`, `devices/${name}/events/door`]);
        const options = { qos: pick([0, 1] as const), retain: !topic.endsWith('telemetry') && random() < 0.3 };
        await devices.get(`${tenant}/${name}`)!.publishAsync(topic, payload(), options);
      } else if (roll < 0.85) {
        await pick(watchers.filter((watcher) => watcher.tenant === tenant)).client.publishAsync(`apps/${pick(['x', 'y'])}`, payload(), { qos: pick([0, 1] as const), retain: random() < 0.2 });
      } else if (roll < 0.95) {
        // A will: a device connection with the same client id in both tenants, dropped without DISCONNECT.
        const device = credential(`${tenant}/d2`);
        const dying = await connect(mqttUrl(pick(nodes)), { username: device.username, password: device.password, clientId: `will-${op % 4}`,
          will: { topic: 'devices/d2/events/gone', payload: Buffer.from(payload()), qos: 1, retain: false } });
        dying.on('error', () => undefined);
        (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
      } else {
        const watcher = pick(watchers.filter((candidate) => candidate.tenant === tenant));
        await subscribe(watcher.client, pick(FILTERS).replace('G', `late${op}`), 1);
      }
    }
    // Markers from every node in each tenant, after everything above: once a watcher has its tenant's three, what was routed to it is in.
    for (const tenant of ISOLATED) {
      const app = credential(`${tenant}/watcher`);
      for (const [i, node] of nodes.entries()) {
        const marker = await mqtt(node, app, `marker-${i}`);
        await markerAfter(marker, `markers/${i}`, watchers.filter((watcher) => watcher.tenant === tenant).map((watcher) => watcher.received), { timeoutMs: 15_000 });
      }
    }
    for (const { tenant, received } of watchers) {
      const leaks = withoutMarkers(received).filter((message) => message.topic.startsWith('$SYS/')
        ? foreign(tenant).some((id) => message.payload.includes(id))
        : (JSON.parse(message.payload) as { tenant: string }).tenant !== tenant);
      expect(leaks, `seed ${ISOLATION_SEED}`).toEqual([]);
    }
    // The run did route: every watcher got messages of its own tenant, many across nodes.
    expect(watchers.every((watcher) => withoutMarkers(watcher.received).length > 0), `seed ${ISOLATION_SEED}`).toBe(true);
  }, 120_000);

  it('a node killed with SIGKILL under QoS 1 load: every acknowledged row is stored, its devices read offline unless they reconnected elsewhere, and a persistent session resumes on another node with what was queued', async () => {
    const [meter, gauge, valve, recorder] = [credential('kill/meter'), credential('kill/gauge'), credential('kill/valve'), credential('kill/recorder')];
    const doomed = await spawnUrlGateway(databaseUrl, env);
    const token = await login(nodes[0]!, 'kill');
    const online = async (device: string) => (await call<{ online: boolean }>(nodes[0]!.base, 'GET', `/v1/devices/${device}`, { token })).body.online;
    try {
      const away = await connect(mqttUrl(doomed), { username: recorder.username, password: recorder.password, clientId: 'recorder-k', clean: false, reconnectPeriod: 0 });
      away.on('error', () => undefined);
      clients.push(away);
      await subscribe(away, 'devices/valve/telemetry', 1);
      await mqtt(doomed, gauge, 'gauge-k');
      const publisher = await mqtt(doomed, meter, 'meter-k');
      await waitFor(async () => ((await online('gauge')) && (await online('meter')) ? true : undefined), 10_000, 'gauge and meter online');

      const acknowledged: number[] = [];
      void (async () => {
        for (let seq = 0; publisher.connected; seq++) {
          await publisher.publishAsync('devices/meter/telemetry', JSON.stringify({ seq }), { qos: 1 });
          acknowledged.push(seq);
        }
      })().catch(() => undefined); // the last publish is never answered: MQTT.js keeps it for a reconnect that does not come
      await until(() => acknowledged.length >= 200, 15_000, '200 acknowledged messages');
      const closed = new Promise<void>((resolve) => publisher.once('close', () => resolve()));
      doomed.process.kill('SIGKILL');
      await closed;
      await doomed.stop();

      const stored = new Set((await core.db.platformQuery<{ seq: number }>(`SELECT (payload->>'seq')::int AS seq FROM telemetry WHERE device_id = $1`, [meter.id])).map((row) => row.seq));
      expect(acknowledged.filter((seq) => !stored.has(seq))).toEqual([]);

      // While the session is away, the valve publishes through node 1: queued for it in the fleet's persistence.
      const valveOnNode1 = await mqtt(nodes[0]!, valve, 'valve-k');
      for (let n = 1; n <= 3; n++) await valveOnNode1.publishAsync('devices/valve/telemetry', JSON.stringify({ queued: n }), { qos: 1 });
      // The meter reconnects elsewhere (once the dead node's lock on its client id has run out); the gauge does not.
      await waitFor(() => mqtt(nodes[1]!, meter, 'meter-k').catch(() => undefined), 30_000, 'the meter connected to node 2');
      await waitFor(async () => ((await online('gauge')) === false ? true : undefined), 15_000, 'the gauge offline once its node is swept');
      await waitFor(async () => ((await online('meter')) ? true : undefined), 10_000, 'the meter online through node 2');

      // The dead node's takeover lock on the client id runs out (CONNACK 3 until then), and the session resumes on node 3.
      const { client: resumed, received, sessionPresent } = await waitFor(() => resume(nodes[2]!, recorder, 'recorder-k'), 30_000, 'the session resumed on node 3');
      clients.push(resumed);
      expect(sessionPresent).toBe(true);
      await markerAfter(valveOnNode1, 'devices/valve/telemetry', [received]);
      expect(withoutMarkers(received).map((message) => JSON.parse(message.payload))).toEqual([{ queued: 1 }, { queued: 2 }, { queued: 3 }]);
    } finally {
      await doomed.stop();
    }
  }, 90_000);

  it('while Redis is down, under QoS 1 load, each node serves its own clients and says it is degraded; cross-node delivery resumes when Redis is back, and nothing acknowledged is lost', async () => {
    const [sensor, here, there, pump] = [credential('outage/sensor'), credential('outage/here'), credential('outage/there'), credential('outage/pump')];
    // Load through the outage: a device on node 3 publishing QoS 1 telemetry as fast as its PUBACKs come.
    const loader = await mqtt(nodes[2]!, pump, 'pump-1');
    const acknowledged: number[] = [];
    let loading = true;
    const load = (async () => {
      for (let seq = 0; loading; seq++) {
        await loader.publishAsync('devices/pump/telemetry', JSON.stringify({ seq }), { qos: 1 });
        acknowledged.push(seq);
      }
    })();
    await until(() => acknowledged.length >= 50, 10_000, 'the load under way');
    const [onNode1, onNode2] = [await mqtt(nodes[0]!, here, 'here-1'), await mqtt(nodes[1]!, there, 'there-1')];
    const [heardHere, heardThere] = [record(onNode1), record(onNode2)];
    await Promise.all([subscribe(onNode1, 'devices/sensor/#', 1), subscribe(onNode2, 'devices/sensor/#', 1)]);
    const publisher = await mqtt(nodes[0]!, sensor, 'sensor-1');
    const readiness = async (node: UrlGateway) => {
      const response = await fetch(`${node.base}/readyz`);
      return { code: response.status, ...(await response.json() as { status: string; checks: { fleet: string } }) };
    };
    expect(await readiness(nodes[0]!)).toMatchObject({ code: 200, status: 'ready', checks: { fleet: 'ok' } });
    expect(await metric(nodes[0]!.base, 'gatehouse_fleet_degraded')).toBe(0);

    await redis.stop();
    for (const node of nodes) {
      await waitFor(async () => ((await readiness(node)).status === 'degraded' ? true : undefined), 10_000, 'a degraded /readyz');
      expect(await readiness(node)).toMatchObject({ code: 200, checks: { fleet: 'degraded' } });
      expect(await metric(node.base, 'gatehouse_fleet_degraded')).toBe(1);
    }
    await publisher.publishAsync('devices/sensor/telemetry', JSON.stringify({ during: 'outage' }), { qos: 1 });
    await until(() => heardHere.length === 1, 5_000, 'the local subscriber served during the outage');
    expect(await metric(nodes[0]!.base, 'gatehouse_fleet_frames_total', { outcome: 'dropped' })).toBeGreaterThan(0);

    await redis.start();
    for (const node of nodes) await waitFor(async () => ((await readiness(node)).status === 'ready' ? true : undefined), 15_000, 'a ready /readyz after Redis returned');
    // Re-subscription follows the reconnection by a round trip: publish until the other node hears one.
    await waitFor(async () => {
      await publisher.publishAsync('devices/sensor/telemetry', JSON.stringify({ after: 'outage' }), { qos: 1 });
      return heardThere.some((message) => message.payload.includes('after')) ? true : undefined;
    }, 10_000, 'a message across nodes after Redis returned');
    expect(heardThere.some((message) => message.payload.includes('during'))).toBe(false); // pub/sub is at most once: what Redis never had is not replayed
    loading = false;
    await load;
    expect(loader.connected).toBe(true);
    const stored = new Set((await core.db.platformQuery<{ seq: number }>(`SELECT (payload->>'seq')::int AS seq FROM telemetry WHERE device_id = $1`, [pump.id])).map((row) => row.seq));
    expect(acknowledged.length).toBeGreaterThan(100);
    expect(acknowledged.filter((seq) => !stored.has(seq))).toEqual([]);
    expect(nodes.every((node) => node.process.exitCode === null)).toBe(true);
  });
});

it('gatehouse start refuses REDIS_URL on the embedded PostgreSQL: several nodes need one DATABASE_URL', async () => {
  const result = await runCli(['start', '--json'], gatewayEnv({ REDIS_URL: 'redis://127.0.0.1:1', DATA_DIR: '/nonexistent' }));
  expect(result.code).toBe(1);
  expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'CONFIG_INVALID' } });
  expect(result.stderr).toMatch(/REDIS_URL is set.*DATABASE_URL is not/);
});
