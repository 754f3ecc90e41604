import type { IConnectPacket } from 'mqtt-packet';
import type { Duplex } from 'node:stream';
import { isGatewayError } from '../core/errors.js';
import type { ConnectionSlots, ConnectRate, Slot } from '../fleet/limits/index.js';
import type { Logger } from '../logger.js';
import { RepeatedFailures } from '../repeated-failures.js';
import { CONNACK, connackCodeFor, refuse } from './connack.js';
import type { ConnectAuthenticator } from './connect-authenticator.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { ConnectReader, decodeConnect } from './connect-reader.js';
import { isWellFormedMqttString } from './mqtt-strings.js';
import { limitPacketSizes } from './packet-size-limit.js';
import { SESSION, type MqttSession, type WithSession } from './session.js';

type UnavailableRefusal = { reason: string; transport: string; remoteAddress: string | undefined; err?: unknown };

type Arrival = {
  stream: Duplex;
  transport: MqttSession['transport'];
  remoteAddress: string | undefined;
  certificateName: string | undefined;
};

export type FrontDoorOptions = {
  connectTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerCredential: number;
  /** The credential caps and connect rates, this node's or the fleet's (src/fleet/limits). */
  connectionSlots: ConnectionSlots;
  connectRate: ConnectRate;
  maxTopicLength: number;
  /** The largest CONNECT, read before anyone is authenticated. */
  maxConnectBytes: number;
  /** The largest packet after CONNECT, enforced while the tenant broker reads. */
  maxPacketBytes: number;
};

/**
 * Every MQTT connection, whatever its transport, comes in here first: the
 * CONNECT is read and authenticated, and only then is the stream handed to
 * its tenant's own aedes instance, with the bytes read so far put back. A
 * tenant's broker thus never sees another tenant's connection, client id,
 * retained message, will or $SYS topic: isolation by construction.
 */
export class FrontDoor {
  private open = 0;
  /**
   * CONNACK 3 refusals (the database down, the node full, an unexpected failure) come in storms: every
   * device of every tenant retries. The first is logged at once, with its error; then one line per 10 s with a count.
   */
  private readonly unavailable: RepeatedFailures<UnavailableRefusal>;
  /** When each credential's refusal at its connection cap was last logged: a load test hitting it should be told once a minute, not per CONNECT. */
  private readonly capLogged = new Map<string, number>();

  constructor(
    private readonly authenticator: ConnectAuthenticator,
    private readonly handOff: (session: MqttSession, stream: Duplex) => void,
    private readonly options: FrontDoorOptions,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {
    this.unavailable = new RepeatedFailures<UnavailableRefusal>((count, { err, ...fields }) =>
      log.warn({ ...fields, ...(err === undefined ? {} : { err }), refused: count }, 'CONNECTs refused: server unavailable (counted, one line per 10 s)'));
  }

  get connections(): number {
    return this.open;
  }

  accept(stream: Duplex, transport: MqttSession['transport'], remoteAddress: string | undefined, certificateName?: string): void {
    // Unauthenticated: at most maxConnectBytes are kept, once, and a larger declaration is refused from its header.
    let reader: ConnectReader | undefined = new ConnectReader(this.options.maxConnectBytes);
    let settled = false;
    const timer = setTimeout(() => finish(() => stream.destroy()), this.options.connectTimeoutMs);
    timer.unref();

    const finish = (then: () => void) => {
      if (settled) return;
      settled = true;
      reader = undefined;
      clearTimeout(timer);
      stream.off('readable', onReadable);
      then();
    };
    // Kept for the connection's life (aedes adds its own): a CONNACK written to a WebSocket its peer already
    // closed fails with an 'error' event, which, unheard, would take the whole process down.
    const onError = () => {
      finish(() => undefined);
      stream.destroy();
    };
    const arrival: Arrival = { stream, transport, remoteAddress, certificateName };
    const closeFor = (why: 'malformed' | 'too-large' | 'not-connect', declared?: number) => {
      if (why === 'too-large') this.metrics.packetsTooLarge++;
      else this.metrics.malformed++;
      this.log.debug({ remoteAddress, transport, why, declared }, 'connection closed before CONNECT');
      finish(() => stream.destroy()); // [MQTT-3.1.0-1] for anything but a CONNECT
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!settled && (chunk = stream.read() as Buffer | null) !== null) {
        const read = reader!.push(chunk);
        if (read.state === 'refused') return closeFor(read.reason, read.declared);
        if (read.state !== 'complete') continue;
        const packet = decodeConnect(read.connect);
        if (!packet) return closeFor('malformed');
        // What followed the CONNECT stays unread until the tenant's broker takes over.
        return finish(() => void this.admit(packet, read.rest.length > 0 ? [read.connect, read.rest] : [read.connect], arrival));
      }
    };
    stream.on('error', onError);
    stream.on('readable', onReadable);
  }

  private async admit(packet: IConnectPacket, bytes: Buffer[], arrival: Arrival): Promise<void> {
    const { stream, transport, remoteAddress, certificateName } = arrival;
    const version = packet.protocolVersion ?? 4;
    const deny = (code: number, reason: string, err?: unknown) => {
      this.metrics.connectsRefused++;
      if (code === CONNACK.SERVER_UNAVAILABLE) this.unavailable.record({ reason, transport, remoteAddress, err });
      else this.log.info({ remoteAddress, transport, username: packet.username, clientId: packet.clientId, code, reason }, 'CONNECT refused');
      refuse(stream, version, code);
    };
    // aedes 1.2 speaks MQTT 3.1 and 3.1.1; a version 5 client is told so in its own terms (0x84).
    if (version === 5) return deny(0x84, 'MQTT 5 is not supported');
    // [MQTT-1.5.3-1] [MQTT-1.5.3-2]: checked here, before any lookup, so such a string never reaches Postgres.
    if (!isWellFormedMqttString(packet.clientId)) return deny(CONNACK.IDENTIFIER_REJECTED, 'the client id holds U+0000 or ill-formed UTF-8');
    if (packet.username !== undefined && !isWellFormedMqttString(packet.username)) return deny(CONNACK.BAD_CREDENTIALS, 'the username holds U+0000 or ill-formed UTF-8');
    if (packet.will && !isWellFormedMqttString(packet.will.topic)) {
      // A will topic is a topic name: ill-formed, the packet is malformed and the connection closes [MQTT-1.5.3-1].
      this.metrics.malformed++;
      this.log.info({ remoteAddress, transport, clientId: packet.clientId }, 'CONNECT closed: the will topic holds U+0000 or ill-formed UTF-8');
      stream.destroy();
      return;
    }
    if (this.open >= this.options.maxConnections) return deny(CONNACK.SERVER_UNAVAILABLE, 'the node is at its connection limit');
    // [MQTT-3.1.3-8]: a zero-length client id needs a clean session (plain aedes would accept it, #1095).
    if (packet.clientId === '' && !packet.clean) return deny(CONNACK.IDENTIFIER_REJECTED, 'empty client id with a persistent session');

    let session: MqttSession;
    try {
      session = await this.authenticator.authenticate(packet, transport, remoteAddress, certificateName);
    } catch (error) {
      if (isGatewayError(error)) return deny(connackCodeFor(error.code), error.message);
      return deny(CONNACK.SERVER_UNAVAILABLE, 'CONNECT authentication failed unexpectedly', error);
    }
    // A peer that half-closed right after its CONNECT has nothing left to say, and unshift() after 'end' fails.
    if (stream.destroyed || stream.readableEnded) {
      stream.destroy();
      return;
    }
    if (packet.will && (packet.will.topic.length > this.options.maxTopicLength || !session.acl.canPublish(packet.will.topic))) {
      return deny(CONNACK.NOT_AUTHORIZED, `the will topic ${packet.will.topic.slice(0, 200)} is not allowed`);
    }
    const { tenantId } = session.ctx;
    // Off (the default), or on a single node, both answer at once; in a fleet each is one Redis round trip.
    const allowed = this.options.connectRate.allow(tenantId, session.credentialId);
    if (!(typeof allowed === 'boolean' ? allowed : await allowed.catch(() => true))) {
      return deny(CONNACK.SERVER_UNAVAILABLE, 'the credential connects faster than MQTT_CONNECT_RATE_PER_CREDENTIAL allows');
    }
    const taken = this.options.connectionSlots.take(tenantId, session.credentialId);
    const slot: Slot | undefined = taken === undefined || 'release' in taken ? taken : await taken;
    if (!slot) return this.refuseOverCap(session, packet, stream, version);
    // Gone while the fleet was asked (the same half-close as above).
    if (stream.destroyed || stream.readableEnded) {
      slot.release();
      stream.destroy();
      return;
    }

    this.open++;
    this.metrics.connectsAccepted++;
    stream.once('close', () => {
      this.open--;
      slot.release();
    });
    (stream as Duplex & WithSession)[SESSION] = session;
    for (let i = bytes.length - 1; i >= 0; i--) stream.unshift(bytes[i]!);
    limitPacketSizes(stream, this.options, (verdict, declared) => {
      if (verdict === 'too-large') this.metrics.packetsTooLarge++;
      else this.metrics.malformed++;
      this.log.info({ tenantId: session.ctx.tenantId, principal: session.ctx.principal, declared, limit: this.options.maxPacketBytes, verdict }, 'connection closed: packet over the size limit or malformed');
    });
    this.handOff(session, stream);
  }

  /**
   * A credential at MQTT_MAX_CONNECTIONS_PER_CREDENTIAL is a quota, not a refusal of who it is: "Server
   * unavailable" (3) tells a client to retry later; "Not authorized" would send an operator after its secret.
   */
  private refuseOverCap(session: MqttSession, packet: IConnectPacket, stream: Duplex, version: number): void {
    this.metrics.connectsRefused++;
    const now = Date.now();
    if (now - (this.capLogged.get(session.credentialId) ?? -Infinity) >= 60_000) {
      if (this.capLogged.size >= 10_000) for (const [id, at] of this.capLogged) if (now - at >= 60_000) this.capLogged.delete(id);
      this.capLogged.set(session.credentialId, now);
      const limit = this.options.maxConnectionsPerCredential;
      this.log.warn({ tenantId: session.ctx.tenantId, username: packet.username, limit },
        `CONNECTs refused (server unavailable): this credential already has ${limit} connections; raise MQTT_MAX_CONNECTIONS_PER_CREDENTIAL to allow more (logged once a minute per credential)`);
    }
    refuse(stream, version, CONNACK.SERVER_UNAVAILABLE);
  }
}
