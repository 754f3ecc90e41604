import { randomUUID } from 'node:crypto';
import type { Client } from 'aedes';
import type { IConnectPacket } from 'mqtt-packet';
import { SESSION, sessionOf, type WithSession } from '../session.js';
import { screenPackets } from './packet-screen.js';

/**
 * aedes preConnect: the front door already authenticated the connection; here
 * the client id is put in the credential's own namespace, so that one
 * credential can never take over (or inherit the session of) another's
 * connection by reusing its client id. An empty id gets a fresh one [MQTT-3.1.3-6].
 */
export function preConnect(client: Client, packet: IConnectPacket, callback: (error: Error | null, success: boolean) => void): void {
  const session = sessionOf(client.conn);
  if (!session) return callback(new Error('connection was not admitted by the front door'), false);
  (client as Client & WithSession)[SESSION] = session;
  screenPackets(client);
  packet.clientId = `${session.credentialId}/${packet.clientId || randomUUID()}`;
  callback(null, true);
}

/** aedes authenticate: only connections the front door admitted have a session. */
export function authenticate(client: Client, _username: unknown, _password: unknown, callback: (error: null, success: boolean) => void): void {
  callback(null, sessionOf(client) !== undefined);
}
