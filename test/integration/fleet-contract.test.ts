import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMessageEmitter } from '../../src/broker/aedes-tuning/message-emitter.js';
import { SharedSubscriptions } from '../../src/broker/shared-subscriptions.js';
import { LocalEventBus, type EventName } from '../../src/core/event-bus.js';
import type { EmittedPacket, Fleet, MessageEmitter } from '../../src/fleet/fleet.js';
import { LocalFleet } from '../../src/fleet/local-fleet.js';
import { RedisFleet, tenantChannel } from '../../src/fleet/redis-fleet.js';
import { silentLog } from '../support/database.js';
import { waitFor } from '../support/processes.js';
import { describeWithRedis, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * One suite for every implementation of the Fleet seam (MQTT.js's abstract
 * store tests are the model): what a single node must do whatever the fleet,
 * then, for a fleet of several nodes, what must cross between them and what
 * must not. Each node of a fleet here is a Fleet of its own in this process.
 */
type Nodes = {
  /** Fleets that share (one for the in-memory fleet, which is one node). */
  start(count: number): Promise<Fleet[]>;
  /** Resolves once the tenant's channel is subscribed on `count` nodes (at once in memory). */
  subscribed(tenantId: string, count: number): Promise<void>;
  /** Checks that nothing but exact channels and a fixed number of connections per node are used. */
  connections?(): Promise<{ clients: number; patterns: number; channels: string[] }>;
  /** Resolves once `count` nodes are members of the tenant's shared subscription group (at once in memory). */
  sharing(tenantId: string, group: string, count: number): Promise<void>;
};

const T1 = '11111111-1111-4111-8111-111111111111';
const T2 = '22222222-2222-4222-8222-222222222222';

function packet(topic: string, text: string, extra: Partial<EmittedPacket> = {}): EmittedPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(text), qos: 0, retain: false, dup: false, ...extra };
}

/** What an emitter's subscriber of `filter` receives (payloads as text). */
function listen(emitter: MessageEmitter, filter: string): { heard: string[]; packets: EmittedPacket[]; ready: Promise<void>; off(): Promise<void> } {
  const heard: string[] = [];
  const packets: EmittedPacket[] = [];
  const listener = (received: EmittedPacket, done: () => void) => {
    heard.push(received.payload.toString());
    packets.push(received);
    done();
  };
  const ready = new Promise<void>((resolve) => emitter.on(filter, listener, resolve));
  return { heard, packets, ready, off: () => new Promise<void>((resolve) => emitter.removeListener(filter, listener, resolve)) };
}

function emit(emitter: MessageEmitter, sent: EmittedPacket): Promise<Error | undefined> {
  return new Promise((resolve) => emitter.emit(sent, (error) => resolve(error)));
}

const until = (probe: () => boolean, what: string) => waitFor(async () => (probe() ? true : undefined), 5_000, what);
const closeEmitter = (emitter: MessageEmitter) => new Promise<void>((resolve) => emitter.close(resolve));

function fleetContract(name: string, nodes: () => Nodes, options: { nodes: number }) {
  describe(name, () => {
    let fleets: Fleet[] = [];
    let emitters: MessageEmitter[] = [];
    const emitterOn = (fleet: Fleet, tenantId: string) => {
      const emitter = fleet.emitterFor(tenantId, createMessageEmitter(100));
      emitters.push(emitter);
      return emitter;
    };
    afterEach(async () => {
      await Promise.all(emitters.filter((emitter) => !emitter.closed).map(closeEmitter));
      await Promise.all(fleets.map((fleet) => fleet.close()));
      emitters = [];
      fleets = [];
    });
    const start = async (count: number) => (fleets = await nodes().start(count));
    /** A tenant's emitter as a tenant's broker has it: shared subscriptions over the fleet's emitter. */
    const sharingOn = (fleet: Fleet, tenantId: string) => {
      const emitter = new SharedSubscriptions(emitterOn(fleet, tenantId), fleet.shareTurns(tenantId));
      emitters.push(emitter);
      return emitter;
    };
    const topic = 'devices/lamp/telemetry';
    /** Sends `count` numbered packets as aedes would (with its id), then markers until every member has one after them. */
    async function sendThenMarkEach(from: MessageEmitter, count: number, members: ReturnType<typeof listen>[]): Promise<void> {
      const brokerId = randomUUID(); // aedes's: one per broker instance, so a message's id is new to Redis
      for (let i = 1; i <= count; i++) await emit(from, packet(topic, `m${i}`, { qos: 1, brokerId, brokerCounter: i }));
      for (let i = 1; !members.every((member) => member.heard.some((text) => text.startsWith('marker'))); i++) {
        if (i > 100) throw new Error('a member never took a marker');
        await emit(from, packet(topic, `marker${i}`, { qos: 1, brokerId, brokerCounter: count + i }));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    const taken = (member: ReturnType<typeof listen>) => member.heard.filter((text) => !text.startsWith('marker'));

    describe('on one node', () => {
      it('delivers to its subscribers, with + and # filters, and calls back once they have it', async () => {
        const [node] = await start(1);
        const emitter = emitterOn(node!, T1);
        const exact = listen(emitter, 'devices/lamp/state');
        const one = listen(emitter, 'devices/+/state');
        const all = listen(emitter, 'devices/#');
        await Promise.all([exact.ready, one.ready, all.ready]);
        expect(await emit(emitter, packet('devices/lamp/state', 'on'))).toBeUndefined();
        expect(await emit(emitter, packet('devices/lamp/telemetry/power', 'w'))).toBeUndefined();
        expect(exact.heard).toEqual(['on']);
        expect(one.heard).toEqual(['on']);
        expect(all.heard).toEqual(['on', 'w']);
      });

      it('keeps each tenant\'s messages to that tenant', async () => {
        const [node] = await start(1);
        const [one, two] = [emitterOn(node!, T1), emitterOn(node!, T2)];
        const [heardOne, heardTwo] = [listen(one, '#'), listen(two, '#')];
        await Promise.all([heardOne.ready, heardTwo.ready]);
        await emit(one, packet('devices/lamp/state', 'from one'));
        await emit(two, packet('devices/lamp/state', 'from two'));
        expect(heardOne.heard).toEqual(['from one']);
        expect(heardTwo.heard).toEqual(['from two']);
      });

      it('stops delivering to a removed listener, and refuses to emit once closed', async () => {
        const [node] = await start(1);
        const emitter = emitterOn(node!, T1);
        const heard = listen(emitter, 'a/#');
        await heard.ready;
        await emit(emitter, packet('a/b', '1'));
        await heard.off();
        await emit(emitter, packet('a/b', '2'));
        expect(heard.heard).toEqual(['1']);
        await closeEmitter(emitter);
        expect(emitter.closed).toBe(true);
        expect(await emit(emitter, packet('a/b', '3'))).toBeInstanceOf(Error);
      });

      it('hears its own events once', async () => {
        const [node] = await start(1);
        const bus = new LocalEventBus(undefined, node!.events);
        const heard: string[] = [];
        bus.on('device.access.revoked', ({ deviceId }) => heard.push(deviceId));
        bus.emit('device.access.revoked', { tenantId: T1, deviceId: 'd1' });
        bus.emit('device.access.revoked', { tenantId: T1, deviceId: 'marker' });
        await until(() => heard.includes('marker'), 'the marker event');
        expect(heard).toEqual(['d1', 'marker']);
      });

      it('admits an id once per kind until it expires, then again', async () => {
        const [node] = await start(1);
        const [requests, directives] = [node!.seenOnce('alexa-request'), node!.seenOnce('alexa-directive')];
        const now = Date.now();
        expect(await requests.admit('id-1', now, now + 60_000)).toBe(true);
        expect(await requests.admit('id-1', now + 1, now + 60_001)).toBe(false);
        expect(await directives.admit('id-1', now, now + 60_000)).toBe(true);
        // Expired: admitted anew (the in-memory ids go by the caller's clock, Redis's by its own).
        expect(await requests.admit('id-2', Date.now(), Date.now() + 20)).toBe(true);
        await waitFor(async () => ((await requests.admit('id-2', Date.now() + 100, Date.now() + 120)) ? true : undefined), 5_000, 'id-2 admitted again once expired');
      });

      it('hands each message to one member of a shared subscription group, in turn; other groups and subscribers get their own copy', async () => {
        const [node] = await start(1);
        const brokerId = randomUUID();
        const emitter = sharingOn(node!, T1);
        const group = [1, 2, 3].map(() => listen(emitter, `$share/g/devices/+/telemetry`));
        const [other, queue, plain, everything] = [listen(emitter, '$share/h/devices/#'), listen(emitter, '$queue/devices/#'), listen(emitter, topic), listen(emitter, '$share/all/#')];
        await Promise.all([...group, other, queue, plain, everything].map((member) => member.ready));
        for (let i = 1; i <= 6; i++) await emit(emitter, packet(topic, `m${i}`, { brokerId, brokerCounter: i }));
        await emit(emitter, packet('$SYS/broker/clients/connected', '1'));
        expect(group.map((member) => member.heard)).toEqual([['m1', 'm4'], ['m2', 'm5'], ['m3', 'm6']]);
        for (const whole of [other, queue, plain]) expect(whole.heard).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
        // [MQTT-4.7.2-1] a filter starting with a wildcard matches no $ topic.
        expect(everything.heard).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
        // A member that leaves takes no more turns; the last one to leave ends the group.
        await group[0]!.off();
        await group[1]!.off();
        await emit(emitter, packet(topic, 'm7', { brokerId, brokerCounter: 7 }));
        expect(group[2]!.heard.at(-1)).toBe('m7');
        await group[2]!.off();
        await emit(emitter, packet(topic, 'm8', { brokerId, brokerCounter: 8 }));
        expect(group.map((member) => member.heard.length)).toEqual([2, 2, 3]);
        expect(plain.heard.at(-1)).toBe('m8');
      });

      it('is healthy', async () => {
        const [node] = await start(1);
        expect(node!.health().degraded).toBe(false);
      });
    });

    if (options.nodes < 2) return;

    describe('across nodes', () => {
      it('delivers a message to the tenant\'s subscribers on every node, once each, with what aedes needs', async () => {
        const [a, b, c] = await start(3);
        const [onA, onB, onC] = [emitterOn(a!, T1), emitterOn(b!, T1), emitterOn(c!, T1)];
        const [hereA, hereB, hereC] = [listen(onA, 'devices/+/telemetry'), listen(onB, 'devices/#'), listen(onC, 'devices/lamp/telemetry')];
        await Promise.all([hereA.ready, hereB.ready, hereC.ready, nodes().subscribed(T1, 3)]);
        const sent = packet('devices/lamp/telemetry', '{"w":1}', { qos: 1, brokerId: 'broker-a', brokerCounter: 17, clientId: 'c1', messageId: 9 });
        await emit(onA, sent);
        await until(() => hereB.heard.length > 0 && hereC.heard.length > 0, 'delivery on B and C');
        await emit(onA, packet('devices/lamp/telemetry', 'second'));
        await until(() => hereC.heard.length === 2, 'the second message on C');
        expect(hereA.heard).toEqual(['{"w":1}', 'second']);
        expect(hereB.heard).toEqual(['{"w":1}', 'second']);
        expect(hereC.heard).toEqual(['{"w":1}', 'second']);
        expect(hereB.packets[0]).toMatchObject({ topic: 'devices/lamp/telemetry', qos: 1, retain: false, brokerId: 'broker-a', brokerCounter: 17, clientId: 'c1' });
        expect(hereB.packets[0]!.messageId).toBeUndefined();
      });

      it('never delivers one tenant\'s messages to another tenant, on any node', async () => {
        const [a, b] = await start(2);
        const oneA = emitterOn(a!, T1);
        const [oneB, twoB] = [emitterOn(b!, T1), emitterOn(b!, T2)];
        const twoA = emitterOn(a!, T2);
        const heard = { oneB: listen(oneB, '#'), twoB: listen(twoB, '#'), twoA: listen(twoA, '#') };
        await Promise.all([...Object.values(heard).map((h) => h.ready), nodes().subscribed(T1, 2), nodes().subscribed(T2, 2)]);
        for (let i = 0; i < 50; i++) await emit(oneA, packet(`devices/d${i}/state`, `t1-${i}`, { retain: i % 2 === 0 }));
        // Sent after tenant 1's, from the same node: once it is on B, tenant 1's messages have been everywhere they were going.
        await emit(twoA, packet('devices/d0/state', 't2-sentinel'));
        await until(() => heard.twoB.heard.includes('t2-sentinel'), 'tenant 2\'s sentinel on B');
        await until(() => heard.oneB.heard.length === 50, 'tenant 1\'s messages on B');
        expect(heard.twoB.heard).toEqual(['t2-sentinel']);
        expect(heard.twoA.heard).toEqual(['t2-sentinel']);
        expect(heard.oneB.heard.every((text) => text.startsWith('t1-'))).toBe(true);
      });

      it('publishes to a tenant from a node where it has no emitter (a command issued there)', async () => {
        const [a, b] = await start(2);
        const onB = emitterOn(b!, T1);
        const heard = listen(onB, 'devices/lamp/commands/+');
        await Promise.all([heard.ready, nodes().subscribed(T1, 1)]);
        await a!.publish(T1, packet('devices/lamp/commands/c1', '{"name":"on"}', { qos: 1 }));
        await until(() => heard.heard.length === 1, 'the command on B');
        expect(heard.packets[0]).toMatchObject({ topic: 'devices/lamp/commands/c1', qos: 1 });
      });

      it('keeps each node\'s $SYS/broker statistics on that node; aedes\'s own $SYS messages cross', async () => {
        const [a, b] = await start(2);
        const [onA, onB] = [emitterOn(a!, T1), emitterOn(b!, T1)];
        const heardB = listen(onB, '$SYS/#');
        await Promise.all([heardB.ready, nodes().subscribed(T1, 2)]);
        await emit(onA, packet('$SYS/broker/clients/connected', '3', { retain: true }));
        await emit(onA, packet('$SYS/broker-a-id/new/clients', 'client-1'));
        await until(() => heardB.heard.includes('client-1'), 'the takeover announcement on B');
        expect(heardB.heard).toEqual(['client-1']);
      });

      it('stops sending a tenant\'s messages to a node whose emitter closed', async () => {
        const [a, b] = await start(2);
        const [onA, onB] = [emitterOn(a!, T1), emitterOn(b!, T1)];
        const heardB = listen(onB, '#');
        await Promise.all([heardB.ready, nodes().subscribed(T1, 2)]);
        await closeEmitter(onB);
        await nodes().subscribed(T1, 1);
        const again = emitterOn(b!, T2);
        const sentinel = listen(again, '#');
        await Promise.all([sentinel.ready, nodes().subscribed(T2, 1)]);
        await emit(onA, packet('x', 'after close'));
        await a!.publish(T2, packet('x', 'sentinel'));
        await until(() => sentinel.heard.length === 1, 'the sentinel');
        expect(heardB.heard).toEqual([]);
      });

      it('hands each message to one member of a shared subscription group fleet-wide, every member in turn', async () => {
        const [a, b, c] = await start(3);
        const [onA, onB, onC] = [sharingOn(a!, T1), sharingOn(b!, T1), sharingOn(c!, T1)];
        const members = [listen(onA, '$share/g/devices/+/telemetry'), listen(onB, '$share/g/devices/+/telemetry'), listen(onB, '$share/g/devices/+/telemetry')];
        const plain = listen(onC, topic);
        await Promise.all([...members.map((member) => member.ready), plain.ready, nodes().subscribed(T1, 3), nodes().sharing(T1, 'g/devices/+/telemetry', 2)]);
        await sendThenMarkEach(onC, 30, members);
        const all = members.flatMap(taken);
        expect(all.length).toBe(30);
        expect(new Set(all).size).toBe(30);
        // One turn per member in each round: A's one member, B's two.
        expect(members.map((member) => taken(member).length)).toEqual([10, 10, 10]);
        expect(plain.heard.filter((text) => !text.startsWith('marker'))).toHaveLength(30);
      });

      it('admits an id on one node only: a replay to another node is refused', async () => {
        const [a, b] = await start(2);
        const now = Date.now();
        expect(await a!.seenOnce('alexa-request').admit('amzn1.echo-api.request.1', now, now + 60_000)).toBe(true);
        expect(await b!.seenOnce('alexa-request').admit('amzn1.echo-api.request.1', now, now + 60_000)).toBe(false);
      });

      it('carries the fleet-wide events to the other nodes\' listeners, and only those', async () => {
        const [a, b] = await start(2);
        const [busA, busB] = [new LocalEventBus(undefined, a!.events), new LocalEventBus(undefined, b!.events)];
        const heard: string[] = [];
        for (const event of ['device.access.revoked', 'command.status.changed', 'device.state.changed'] as EventName[]) {
          busB.on(event, (payload) => heard.push(`${event} ${JSON.stringify(payload)}`));
        }
        // B hears A once both are subscribed to the events channel: a marker at each poll until it does.
        let markers = 0;
        await waitFor(async () => {
          busA.emit('device.access.revoked', { tenantId: T1, deviceId: `ready-${++markers}` });
          return heard.length > 0 ? true : undefined;
        }, 5_000, 'B hearing A');
        await until(() => heard.some((line) => line.includes(`"ready-${markers}"`)), 'the last marker on B');
        heard.length = 0;
        busA.emit('device.state.changed', { tenantId: T1, deviceId: 'd', state: { on: true } });
        busA.emit('device.access.revoked', { tenantId: T1, deviceId: 'd' });
        busA.emit('command.status.changed', { tenantId: T1, commandId: 'c', deviceId: 'd', status: 'succeeded' });
        await until(() => heard.length === 2, 'the two fleet-wide events on B');
        expect(heard).toEqual([
          `device.access.revoked ${JSON.stringify({ tenantId: T1, deviceId: 'd' })}`,
          `command.status.changed ${JSON.stringify({ tenantId: T1, commandId: 'c', deviceId: 'd', status: 'succeeded' })}`,
        ]);
      });

      it('uses two connections per node whatever the number of tenants, exact channels only', async () => {
        const check = nodes().connections;
        if (!check) return;
        const [a, b] = await start(2);
        const tenants = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
        for (const tenant of tenants) {
          emitterOn(a!, tenant);
          emitterOn(b!, tenant);
        }
        await Promise.all(tenants.map((tenant) => nodes().subscribed(tenant, 2)));
        const seen = await check();
        expect(seen.clients).toBe(4);
        expect(seen.patterns).toBe(0);
        expect(seen.channels.sort()).toEqual([...tenants.map(tenantChannel), 'gh:events'].sort());
      });
    });
  });
}

fleetContract('the in-memory fleet (no REDIS_URL)', () => ({
  start: async (count) => Array.from({ length: count }, () => new LocalFleet()),
  subscribed: async () => undefined,
  sharing: async () => undefined,
}), { nodes: 1 });

describeWithRedis('the Redis fleet', () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.close();
  });

  fleetContract('over a real redis-server', () => ({
    start: (count) => Promise.all(Array.from({ length: count }, () => RedisFleet.start({ url: server.url, log: silentLog }))),
    subscribed: async (tenantId, count) => {
      await waitFor(async () => {
        const [, subscribers] = (await admin.pubsub('NUMSUB', tenantChannel(tenantId))) as [string, number];
        return subscribers === count ? true : undefined;
      }, 5_000, `${count} nodes subscribed to ${tenantChannel(tenantId)}`);
    },
    sharing: async (tenantId, group, count) => {
      await waitFor(async () => ((await admin.hlen(`gh:{${tenantId}}:share:${group}`)) === count ? true : undefined), 5_000, `${count} nodes sharing ${group}`);
    },
    connections: async () => {
      const clients = String(await admin.client('LIST')).trim().split('\n').filter((line) => / name=gatehouse:/.test(line)).length;
      const patterns = Number(await admin.pubsub('NUMPAT'));
      const channels = (await admin.pubsub('CHANNELS')) as string[];
      return { clients, patterns, channels };
    },
  }), { nodes: 3 });
});
