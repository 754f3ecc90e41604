import mqttPacket from 'mqtt-packet';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../core/errors.js';

/** MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3]. */
export const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, BAD_CREDENTIALS: 4, NOT_AUTHORIZED: 5 } as const;

/** The broker's one translation of core error codes to CONNACK return codes (docs/errors.md). */
export function connackCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_CREDENTIALS':
    case 'UNAUTHENTICATED':
    case 'TOKEN_INVALID':
    case 'TOKEN_EXPIRED':
    case 'TOKEN_REVOKED':
      return CONNACK.BAD_CREDENTIALS;
    case 'DATABASE_UNAVAILABLE':
    case 'INTERNAL':
      return CONNACK.SERVER_UNAVAILABLE;
    default:
      return CONNACK.NOT_AUTHORIZED;
  }
}

/** Refuses a connection: a CONNACK with the code, then close [MQTT-3.2.2-5]. */
export function refuse(stream: Duplex, protocolVersion: number, returnCode: number): void {
  const packet = protocolVersion === 5
    ? { cmd: 'connack' as const, sessionPresent: false, reasonCode: returnCode }
    : { cmd: 'connack' as const, sessionPresent: false, returnCode };
  try {
    stream.end(mqttPacket.generate(packet, { protocolVersion: protocolVersion === 5 ? 5 : 4 }));
  } catch {
    stream.destroy();
  }
  setTimeout(() => stream.destroy(), 1000).unref();
}
