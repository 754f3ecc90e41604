import type { AedesPublishPacket, Client } from 'aedes';
import { parseSharedFilter } from '../core/topics/shared-subscription.js';
import type { EmittedPacket, MessageEmitter, PacketListener, ShareTurns } from '../fleet/fleet.js';

type Done = () => void;
type Deliver = (packet: AedesPublishPacket, done: Done) => void;

/**
 * True while a group hands a message to a member: the member is aedes's
 * subscription function, which calls its client's deliverQoS in the same
 * call (see queueSharedDeliveries).
 */
let handingToMember = false;
/** Clients whose deliverQoS queues what a group hands them (queueSharedDeliveries). */
const queueing = new WeakSet<Client>();

type Group = { filter: string; members: PacketListener[]; next: number; dispatch: PacketListener };

/**
 * Shared subscriptions in the emitter a tenant's aedes routes with, without
 * changing aedes: it subscribes a client to `$share/g/f` like any filter (and
 * so stores, restores and unsubscribes it as sent), which here joins the
 * client's delivery function to group `g/f`; the group listens once on `f`
 * and hands each message to one member, in turn. With several nodes, the
 * fleet decides which node's members take each message (ShareTurns), so it
 * reaches one member fleet-wide. No retained message is sent to a shared
 * subscription (MQTT 5 §4.8.2): none matches the `$share/…` filter aedes
 * looks them up with.
 */
export class SharedSubscriptions implements MessageEmitter {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly inner: MessageEmitter, private readonly turns: ShareTurns) {}

  get closed(): boolean {
    return this.inner.closed;
  }

  on(topic: string, listener: PacketListener, done?: Done): this {
    const shared = parseSharedFilter(topic);
    if (!shared) {
      this.inner.on(topic, listener, done);
      return this;
    }
    const name = `${shared.group}/${shared.filter}`;
    let group = this.groups.get(name);
    if (group) {
      done?.();
    } else {
      group = this.open(name, shared.filter);
      this.inner.on(shared.filter, group.dispatch, done);
    }
    group.members.push(listener);
    this.turns.members(name, group.members.length);
    return this;
  }

  removeListener(topic: string, listener: PacketListener, done?: Done): this {
    const shared = parseSharedFilter(topic);
    const name = shared && `${shared.group}/${shared.filter}`;
    const group = name ? this.groups.get(name) : undefined;
    if (!name || !group) {
      this.inner.removeListener(topic, listener, done);
      return this;
    }
    const at = group.members.indexOf(listener);
    if (at >= 0) group.members.splice(at, 1);
    this.turns.members(name, group.members.length);
    if (group.members.length > 0) {
      done?.();
    } else {
      this.groups.delete(name);
      this.inner.removeListener(group.filter, group.dispatch, done);
    }
    return this;
  }

  emit(packet: EmittedPacket, done?: (error?: Error) => void): this {
    this.inner.emit(packet, done);
    return this;
  }

  close(done: Done): this {
    this.turns.close();
    this.inner.close(done);
    return this;
  }

  private open(name: string, filter: string): Group {
    // [MQTT-4.7.2-1] a filter starting with a wildcard matches no `$` topic (aedes does the same for its own subscriptions).
    const skipsDollar = filter.startsWith('#') || filter.startsWith('+');
    const group: Group = {
      filter, members: [], next: 0,
      dispatch: (packet, taken) => {
        if (skipsDollar && packet.topic.startsWith('$')) return taken();
        const mine = this.turns.mine(name, packet);
        if (mine === true) return deliver(packet, taken);
        if (mine === false) return taken();
        mine.then((ours) => (ours ? deliver(packet, taken) : taken()), () => deliver(packet, taken));
      },
    };
    const deliver = (packet: EmittedPacket, taken: Done) => {
      if (group.members.length === 0) return taken();
      const member = group.members[group.next % group.members.length]!;
      group.next = (group.next + 1) % group.members.length;
      handingToMember = true;
      try {
        member(packet, taken);
      } finally {
        handingToMember = false;
      }
    };
    this.groups.set(name, group);
    return group;
  }
}

/**
 * aedes queues a QoS 1/2 message for a persistent session before it routes it,
 * for the subscriptions its persistence matches by topic, then finds it there
 * to send it; no `$share/…` filter matches a topic, so a member with a
 * persistent session would be refused the message ("no such packet"). Here
 * the message a group hands such a member is queued first, as aedes queues
 * what it publishes to one client: sent now, and again when the session
 * resumes if its PUBACK never came (MQTT 5 §4.8.2 lets the server wait for the
 * member to reconnect). Installed when a persistent session is granted its
 * first shared subscription (hooks/subscribe.ts), before aedes makes the
 * subscription's function, which calls the deliverQoS it finds then: other
 * clients' deliveries pay nothing.
 */
export function queueSharedDeliveries(client: Client): void {
  const internals = client as unknown as { clean: boolean; id: string; deliverQoS: Deliver; broker: { persistence: { outgoingEnqueue(sub: { clientId: string }, packet: AedesPublishPacket): Promise<void> } } };
  if (internals.clean || queueing.has(client)) return;
  queueing.add(client);
  if (typeof internals.deliverQoS !== 'function' || typeof internals.broker?.persistence?.outgoingEnqueue !== 'function') {
    throw new Error('aedes client internals changed: review src/broker/shared-subscriptions.ts before upgrading it');
  }
  const deliver = internals.deliverQoS;
  internals.deliverQoS = function deliverShared(packet, done) {
    if (!handingToMember || packet.qos === 0) return deliver(packet, done);
    internals.broker.persistence.outgoingEnqueue({ clientId: internals.id }, packet).then(() => deliver(packet, done), () => deliver(packet, done));
  };
}
