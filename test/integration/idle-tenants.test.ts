import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TenantBrokers } from '../../src/broker/tenant-brokers.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { whileTelemetryCommitsWait } from '../support/database.js';
import { connect, record, subscribe, until, type Received } from '../support/mqtt.js';

/**
 * Intervals started by the broker's code (aedes's heartbeat and will timers,
 * the $SYS statistics), and which of them were cleared: the process's own
 * timers (Postgres pool, test clients) are not the brokers' to stop.
 */
function watchBrokerIntervals() {
  const started = new Map<NodeJS.Timeout, string>();
  const cleared = new Set<unknown>();
  const { setInterval: realSet, clearInterval: realClear } = globalThis;
  vi.spyOn(globalThis, 'setInterval').mockImplementation(((...args: Parameters<typeof setInterval>) => {
    const timer = realSet(...args);
    const stack = new Error().stack ?? '';
    if (/node_modules\/aedes\/|src\/broker\//.test(stack)) started.set(timer, stack);
    return timer;
  }) as typeof setInterval);
  vi.spyOn(globalThis, 'clearInterval').mockImplementation((timer) => {
    cleared.add(timer);
    realClear(timer);
  });
  /** Broker intervals not cleared, or those of them started from a file matching `from`. */
  const stillRunning = (from = /./) => [...started].filter(([timer, stack]) => !cleared.has(timer) && from.test(stack)).map(([timer]) => timer);
  return { stillRunning };
}

const intervals = watchBrokerIntervals();
const handOff = vi.spyOn(TenantBrokers.prototype, 'handOff');
const createBroker = vi.spyOn(Aedes, 'createBroker');
afterAll(() => vi.restoreAllMocks());

/** The TenantBrokers of the gateway last connected to (the gateway does not expose it: its first hand-off shows it). */
function tenantBrokers(): TenantBrokers {
  return handOff.mock.contexts.at(-1) as TenantBrokers;
}

/** The aedes instance started last. */
async function lastInstance(): Promise<Aedes> {
  return (await createBroker.mock.results.at(-1)!.value) as Aedes;
}

/** Released instances and their stores, seen from a gateway that releases a tenant as soon as its last client leaves. */
describe('idle tenants', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let brokers: TenantBrokers | undefined;
  const open: MqttClient[] = [];
  let tenants = 0;

  /** A fresh tenant with two app credentials (apps may use their tenant's whole namespace). */
  async function tenant(): Promise<{ writer: Credential; reader: Credential }> {
    const slug = `idle-${++tenants}`;
    await gw.tenant(slug);
    return { writer: await gw.app(slug, 'writer'), reader: await gw.app(slug, 'reader') };
  }

  async function client(credential: Credential, options: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
    const c = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password, ...options });
    open.push(c);
    brokers = tenantBrokers();
    return c;
  }

  /** A persistent session's reconnect: its CONNACK, and what it receives from the first packet on. */
  async function reconnect(credential: Credential, clientId: string): Promise<{ sessionPresent: boolean; seen: Received[] }> {
    const c = mqtt.connect(gw.endpoints.tcp, { username: credential.username, password: credential.password, clientId, clean: false, reconnectPeriod: 0, protocolVersion: 4 });
    open.push(c);
    const seen = record(c);
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => c.once('connect', resolve).once('error', reject));
    return { sessionPresent: connack.sessionPresent, seen };
  }

  async function leave(c: MqttClient): Promise<void> {
    await c.endAsync();
    open.splice(open.indexOf(c), 1);
  }

  /** Every instance is closed, each release has decided on its store. */
  const allReleased = () => until(() => brokers!.tenantsRunning === 0 && open.length === 0, 5_000, 'every tenant broker to be released');

  beforeAll(async () => {
    gw = await startBrokerGateway({ MQTT_TENANT_IDLE_MS: '0' });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => gw?.close());

  it('a tenant whose last client left releases its instance, its timers and an empty store', async () => {
    const { reader } = await tenant();
    const app = await client(reader);
    const seen = record(app);
    expect(await subscribe(app, '$SYS/broker/#')).toEqual([0]);
    await until(() => seen.some((m) => m.topic === '$SYS/broker/clients/connected'), 5_000, 'the tenant\'s $SYS statistics');
    const instance = await lastInstance();
    expect(brokers!.tenantsRunning).toBe(1);
    expect(intervals.stillRunning().length).toBeGreaterThanOrEqual(3); // aedes heartbeat and wills, $SYS

    await leave(app);
    await allReleased();
    expect(intervals.stillRunning()).toEqual([]);
    expect(instance.closed).toBe(true);
    expect((instance as unknown as { mq: { closed: boolean } }).mq.closed).toBe(true);
    expect(instance.eventNames()).toEqual([]);
    // Its only retained messages were its own $SYS statistics: nothing to keep.
    expect(brokers!.tenantsWithState).toBe(0);
  });

  it('a persistent session and the QoS 1 message queued for it survive two releases', async () => {
    const { writer, reader } = await tenant();
    const subscriber = await client(reader, { clientId: 'kitchen-display', clean: false });
    expect(await subscribe(subscriber, 'rooms/kitchen/#', 1)).toEqual([1]);
    await leave(subscriber);
    await allReleased();
    expect(brokers!.tenantsWithState).toBeGreaterThanOrEqual(1);

    const publisher = await client(writer, { clientId: 'thermostat' });
    await publisher.publishAsync('rooms/kitchen/temperature', '21.5', { qos: 1 });
    await leave(publisher);
    await allReleased();

    const instancesBefore = createBroker.mock.calls.length;
    const { sessionPresent, seen } = await reconnect(reader, 'kitchen-display');
    expect(sessionPresent).toBe(true);
    await until(() => seen.length > 0, 5_000, 'the message queued while the subscriber was away');
    expect(seen).toEqual([{ topic: 'rooms/kitchen/temperature', payload: '21.5', retain: false, qos: 1 }]);
    expect(createBroker.mock.calls.length).toBe(instancesBefore + 1); // a new instance, not a survivor
  });

  it('a retained message survives the release and reaches a new subscriber', async () => {
    const { writer, reader } = await tenant();
    const publisher = await client(writer);
    await publisher.publishAsync('doors/front', 'locked', { qos: 1, retain: true });
    await leave(publisher);
    await allReleased();
    expect(brokers!.tenantsWithState).toBeGreaterThanOrEqual(1);

    const subscriber = await client(reader);
    const seen = record(subscriber);
    expect(await subscribe(subscriber, 'doors/#', 1)).toEqual([1]);
    await until(() => seen.length > 0, 5_000, 'the retained message');
    expect(seen).toEqual([{ topic: 'doors/front', payload: 'locked', retain: true, qos: 1 }]);
  });

  it('a tenant does not see another tenant\'s retained messages kept while both were released', async () => {
    const alpha = await tenant();
    const beta = await tenant();
    for (const [who, payload] of [[alpha, 'alpha'], [beta, 'beta']] as const) {
      const publisher = await client(who.writer);
      await publisher.publishAsync('doors/front', payload, { qos: 1, retain: true });
      await leave(publisher);
    }
    await allReleased();

    const betaReader = await client(beta.reader);
    const seen = record(betaReader);
    expect(await subscribe(betaReader, ['#', 'doors/front'], 1)).toEqual([1, 1]);
    // Both filters' retained messages come in one pass over the store: once beta's own arrived twice, alpha's would have too.
    await until(() => seen.length >= 2, 5_000, 'beta\'s own retained message, once per filter');
    expect(seen.map((m) => m.payload)).toEqual(['beta', 'beta']);
  });

  it('refuses, and so keeps no, QoS 2 message whose sender left while it waited behind an earlier one\'s commit', async () => {
    const slug = `idle-${++tenants}`;
    await gw.tenant(slug);
    const sensor = await client(await gw.device(slug, 'sensor'), { clientId: 'sensor' });
    await client(await gw.app(slug, 'reader')); // keeps the tenant's instance, and the store the message would sit in
    const instance = await lastInstance();
    // The gateway's answers to aedes for the sensor's event, as aedes receives them.
    const answers: (Error | null | undefined)[] = [];
    const authorize = instance.authorizePublish!.bind(instance);
    instance.authorizePublish = (c, packet, done) => authorize(c, packet, (error) => {
      if (packet.topic.includes('/events/')) answers.push(error);
      done(error);
    });
    // The event after the held telemetry is stored at once and waits its turn.
    await whileTelemetryCommitsWait(gw.gateway.core.db.pool, async (holder) => {
      sensor.publish('devices/sensor/telemetry', '{"held":true}', { qos: 1 });
      sensor.publish('devices/sensor/events/left', '{}', { qos: 2 });
      for (let stored = 0; !stored;) stored = (await holder.query(`SELECT 1 FROM device_events WHERE kind = 'left'`)).rowCount ?? 0;
      sensor.end(true);
      open.splice(open.indexOf(sensor), 1);
      await until(() => !(instance as unknown as { clients: Record<string, unknown> }).clients['sensor'], 5_000, 'the broker to see the sensor leave');
      expect(answers).toEqual([]);
    });
    await until(() => answers.length > 0, 5_000, 'the event\'s answer');
    // Accepted, aedes would keep it for a PUBREL that cannot come, and hold the tenant's store for ever.
    expect(answers).toEqual([new Error('the sender left before PUBREC')]);
    expect(((instance as unknown as { persistence: unknown }).persistence as { incoming: Map<string, unknown> }).incoming.size).toBe(0);
  });

  it('a client that comes back while its tenant\'s instance is closing gets a new one, with its session', async () => {
    const { reader, writer } = await tenant();
    const first = await client(reader, { clientId: 'phone', clean: false });
    expect(await subscribe(first, 'alerts/#', 1)).toEqual([1]);
    const closing = await lastInstance();
    let finishClose!: () => void;
    const held = new Promise<void>((resolve) => (finishClose = resolve));
    const realClose = closing.close.bind(closing);
    const close = vi.spyOn(closing, 'close').mockImplementation((done) => {
      void held.then(() => realClose(done));
    });
    await leave(first);
    await until(() => close.mock.calls.length === 1, 5_000, 'the release to close the instance');

    const handOffs = handOff.mock.calls.length;
    const back = reconnect(reader, 'phone');
    await until(() => handOff.mock.calls.length > handOffs, 5_000, 'the connection to reach the tenant while its instance closes');
    finishClose();
    const { sessionPresent, seen } = await back;
    expect(sessionPresent).toBe(true);
    const fresh = await lastInstance();
    expect(fresh).not.toBe(closing);
    expect(closing.closed).toBe(true);
    expect(brokers!.tenantsRunning).toBe(1);

    const publisher = await client(writer);
    await publisher.publishAsync('alerts/smoke', 'kitchen', { qos: 1 });
    await until(() => seen.length > 0, 5_000, 'the alert on the restored subscription');
    expect(seen[0]).toMatchObject({ topic: 'alerts/smoke', payload: 'kitchen' });
  });
});

/** A gateway that keeps an idle tenant's instance for a while (longer than these tests run). */
describe('idle tenants before their release', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>> | undefined;
  let tenants = 0;

  async function app(): Promise<Credential> {
    const slug = `waiting-${++tenants}`;
    await gw!.tenant(slug);
    return gw!.app(slug, 'reader');
  }

  async function statisticsSeen(credential: Credential): Promise<MqttClient> {
    const c = await connect(gw!.endpoints.tcp, { username: credential.username, password: credential.password });
    const seen = record(c);
    expect(await subscribe(c, '$SYS/broker/#')).toEqual([0]);
    await until(() => seen.some((m) => m.topic === '$SYS/broker/uptime'), 5_000, 'the tenant\'s $SYS statistics');
    return c;
  }

  beforeAll(async () => {
    gw = await startBrokerGateway({ MQTT_TENANT_IDLE_MS: '600000' });
  });
  afterAll(() => gw?.close());

  it('stops $SYS with the last client, and a client arriving before the release keeps the instance', async () => {
    const reader = await app();
    const first = await statisticsSeen(reader);
    const instance = await lastInstance();
    const instances = createBroker.mock.calls.length;
    expect(intervals.stillRunning(/tenant-stats/)).toHaveLength(1);
    await first.endAsync();
    await until(() => intervals.stillRunning(/tenant-stats/).length === 0, 5_000, 'the $SYS timer to stop');
    expect(instance.closed).toBe(false);

    const again = await statisticsSeen(reader);
    expect(createBroker.mock.calls.length).toBe(instances);
    expect(tenantBrokers().tenantsRunning).toBe(1);
    expect(intervals.stillRunning(/tenant-stats/)).toHaveLength(1);
    await again.endAsync();
  });

  it('graceful shutdown ends every instance, one waiting for its release included', async () => {
    const first = await statisticsSeen(await app());
    const instance = await lastInstance();
    await first.endAsync();
    const brokers = tenantBrokers();
    await gw!.close();
    gw = undefined;
    expect(instance.closed).toBe(true);
    expect(brokers.tenantsRunning).toBe(0);
    expect(intervals.stillRunning()).toEqual([]);
  });
});
