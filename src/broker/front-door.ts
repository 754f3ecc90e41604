import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import type { Duplex } from 'node:stream';
import { isGatewayError } from '../core/errors.js';
import type { Logger } from '../logger.js';
import { CONNACK, connackCodeFor, refuse } from './connack.js';
import type { ConnectAuthenticator } from './connect-authenticator.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { SESSION, type MqttSession, type WithSession } from './session.js';

export type FrontDoorOptions = {
  connectTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerCredential: number;
  maxTopicLength: number;
  maxConnectBytes: number;
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
  private readonly perCredential = new Map<string, number>();

  constructor(
    private readonly authenticator: ConnectAuthenticator,
    private readonly handOff: (session: MqttSession, stream: Duplex) => void,
    private readonly options: FrontDoorOptions,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
  ) {}

  get connections(): number {
    return this.open;
  }

  accept(stream: Duplex, transport: MqttSession['transport'], remoteAddress: string | undefined, certificateName?: string): void {
    const parser = mqttPacket.parser();
    const chunks: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => finish(() => stream.destroy()), this.options.connectTimeoutMs);
    timer.unref();

    const finish = (then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('error', onError);
      parser.removeAllListeners();
      then();
    };
    const onError = () => finish(() => stream.destroy());
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!settled && (chunk = stream.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        parser.parse(chunk);
      }
    };
    parser.on('error', (error: Error) => {
      this.metrics.malformed++;
      this.log.debug({ err: error, remoteAddress }, 'malformed packet before CONNECT');
      finish(() => stream.destroy());
    });
    parser.on('packet', (packet: Packet) => {
      if (packet.cmd !== 'connect') {
        finish(() => stream.destroy()); // [MQTT-3.1.0-1]
        return;
      }
      // Whatever follows the CONNECT stays unread until the tenant's broker takes over.
      finish(() => void this.admit(packet, Buffer.concat(chunks), stream, transport, remoteAddress, certificateName));
    });
    stream.on('error', onError);
    stream.on('readable', onReadable);
  }

  private async admit(packet: IConnectPacket, bytes: Buffer, stream: Duplex, transport: MqttSession['transport'], remoteAddress: string | undefined, certificateName: string | undefined): Promise<void> {
    const version = packet.protocolVersion ?? 4;
    const deny = (code: number, reason: string) => {
      this.metrics.connectsRefused++;
      this.log.info({ remoteAddress, transport, username: packet.username, clientId: packet.clientId, code, reason }, 'CONNECT refused');
      refuse(stream, version, code);
    };
    // aedes 1.2 speaks MQTT 3.1 and 3.1.1; a version 5 client is told so in its own terms (0x84).
    if (version === 5) return deny(0x84, 'MQTT 5 is not supported');
    if (this.open >= this.options.maxConnections) return deny(CONNACK.SERVER_UNAVAILABLE, 'the node is at its connection limit');
    // [MQTT-3.1.3-8]: a zero-length client id needs a clean session (plain aedes would accept it, #1095).
    if (packet.clientId === '' && !packet.clean) return deny(CONNACK.IDENTIFIER_REJECTED, 'empty client id with a persistent session');

    let session: MqttSession;
    try {
      session = await this.authenticator.authenticate(packet, transport, remoteAddress, certificateName);
    } catch (error) {
      if (!isGatewayError(error)) this.log.error({ err: error }, 'CONNECT authentication failed unexpectedly');
      return deny(isGatewayError(error) ? connackCodeFor(error.code) : CONNACK.SERVER_UNAVAILABLE, isGatewayError(error) ? error.message : 'internal error');
    }
    if (stream.destroyed) return;
    if (packet.will && (packet.will.topic.length > this.options.maxTopicLength || !session.acl.canPublish(packet.will.topic))) {
      return deny(CONNACK.NOT_AUTHORIZED, `the will topic ${packet.will.topic.slice(0, 200)} is not allowed`);
    }
    const count = this.perCredential.get(session.credentialId) ?? 0;
    if (count >= this.options.maxConnectionsPerCredential) return deny(CONNACK.NOT_AUTHORIZED, 'too many connections for this credential');

    this.perCredential.set(session.credentialId, count + 1);
    this.open++;
    this.metrics.connectsAccepted++;
    stream.once('close', () => {
      this.open--;
      const left = (this.perCredential.get(session.credentialId) ?? 1) - 1;
      if (left <= 0) this.perCredential.delete(session.credentialId);
      else this.perCredential.set(session.credentialId, left);
    });
    (stream as Duplex & WithSession)[SESSION] = session;
    stream.unshift(bytes);
    this.handOff(session, stream);
  }
}
