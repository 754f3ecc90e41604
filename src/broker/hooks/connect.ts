import { randomUUID } from 'node:crypto';
import type { Client } from 'aedes';
import type { IConnectPacket } from 'mqtt-packet';
import type { ClientLocks } from '../broker-context.js';
import { CONNACK, refuse } from '../connack.js';
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

/**
 * preConnect on a node of a fleet: once the client id is namespaced, its
 * takeover lock is taken before aedes goes on to CONNACK, so a connection
 * holding the same id on any node is closed first. When the lock cannot be
 * had in time the client is told to come back (CONNACK 3, server unavailable).
 */
export function lockingPreConnect(locks: ClientLocks, tenantId: string) {
  return (client: Client, packet: IConnectPacket, callback: (error: Error | null, success: boolean) => void): void =>
    preConnect(client, packet, (error, success) => {
      if (error || !success) return callback(error, success);
      locks.lock(tenantId, packet.clientId, client).then(
        () => callback(null, true),
        () => {
          refuse(client.conn, packet.protocolVersion ?? 4, CONNACK.SERVER_UNAVAILABLE);
          callback(null, false);
        },
      );
    });
}

/** aedes authenticate: only connections the front door admitted have a session. */
export function authenticate(client: Client, _username: unknown, _password: unknown, callback: (error: null, success: boolean) => void): void {
  callback(null, sessionOf(client) !== undefined);
}
