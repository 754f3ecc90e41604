import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Config } from '../config.js';
import type { Core } from '../core/create-core.js';
import { GatewayError } from '../core/errors.js';
import type { Fleet } from '../fleet/fleet.js';
import type { FleetLimits } from '../fleet/limits/index.js';
import type { Logger } from '../logger.js';
import { CERTS_DIR } from '../paths.js';
import type { BrokerContext, ClientLocks } from './broker-context.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { ConnectAuthenticator } from './connect-authenticator.js';
import { FrontDoor } from './front-door.js';
import { TenantBrokers } from './tenant-brokers.js';
import type { TenantStores } from './tenant-store.js';

export type MqttBroker = {
  mqttPort: number;
  mqttsPort: number | undefined;
  frontDoor: FrontDoor;
  /** Tenants with a broker instance alive, and tenants whose sessions or retained messages are kept while they may have none. */
  tenants(): { running: number; withState: number };
  /** Stops accepting, then closes every client (their unacknowledged QoS 1 messages will be resent). */
  close(): Promise<void>;
};

async function listen(server: net.Server, port: number, host: string, variable: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new GatewayError('PORT_IN_USE', `${variable} ${port} is already in use on ${host}; stop the other process or choose another port.`) : error),
    );
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** TLS material: configured files, else the development certificates of `gatehouse certs dev`, else none (TLS off). */
async function tlsOptions(config: Config['mqtt']): Promise<tls.TlsOptions | undefined> {
  const cert = config.tlsCert ?? (existsSync(path.join(CERTS_DIR, 'server.crt')) ? path.join(CERTS_DIR, 'server.crt') : undefined);
  const key = config.tlsKey ?? (cert && !config.tlsCert ? path.join(CERTS_DIR, 'server.key') : undefined);
  if (!cert || !key) return undefined;
  const options: tls.TlsOptions = { cert: await readFile(cert), key: await readFile(key), minVersion: 'TLSv1.2' };
  if (config.tlsClientCa) Object.assign(options, { ca: await readFile(config.tlsClientCa), requestCert: true, rejectUnauthorized: false });
  return options;
}

/** A node of a fleet: tenants' sessions in Redis, and one connection per client id fleet-wide (src/fleet/persistence). */
export type FleetSessionsOption = { stores: TenantStores; clientLocks: ClientLocks };

/** The MQTT adapter: TCP, TLS and WebSocket listeners feeding the front door, and the core's events fed to the brokers. */
export async function startMqttBroker(deps: { core: Core; config: Config; log: Logger; metrics: BrokerMetrics; httpServer: HttpServer; fleet: Fleet; limits: FleetLimits; sessions?: FleetSessionsOption }): Promise<MqttBroker> {
  const { core, config, metrics, fleet } = deps;
  const { connectionSlots, connectRate, tenantRates } = deps.limits;
  const log = deps.log.child({ component: 'mqtt' });
  const context: BrokerContext = {
    clientLocks: deps.sessions?.clientLocks,
    core, telemetry: core.telemetry, deviceState: core.deviceState, commands: core.commands, metrics, log, fleet, tenantRates,
    limits: {
      maxPayloadBytes: config.mqtt.maxPayloadBytes, maxPacketBytes: config.mqtt.maxPacketBytes,
      maxSubscriptionsPerPacket: config.mqtt.maxSubscriptionsPerPacket, maxSubscriptionsPerClient: config.mqtt.maxSubscriptionsPerClient,
      maxTopicLength: config.mqtt.maxTopicLength, maxTopicLevels: config.mqtt.maxTopicLevels, telemetryMaxBytes: config.telemetry.maxBytes,
    },
  };
  const brokers = new TenantBrokers(context, { drainTimeout: 10_000, concurrency: 100, maxTopicLevels: config.mqtt.maxTopicLevels, idleMs: config.mqtt.tenantIdleMs }, deps.sessions?.stores);
  const frontDoor = new FrontDoor(
    new ConnectAuthenticator(core, { messagesPerSecond: config.mqtt.rateMessages, bytesPerSecond: config.mqtt.rateBytes }),
    (session, stream) => brokers.handOff(session, stream),
    { connectTimeoutMs: 10_000, maxConnections: config.mqtt.maxConnections, maxConnectionsPerCredential: config.mqtt.maxConnectionsPerCredential, connectionSlots, connectRate, maxTopicLength: config.mqtt.maxTopicLength,
      maxConnectBytes: config.mqtt.maxConnectBytes, maxPacketBytes: config.mqtt.maxPacketBytes },
    metrics,
    log,
  );

  const unsubscribe = [
    core.events.on('command.issued', ({ tenantId, deviceName, command }) =>
      brokers.publishCommand(tenantId, deviceName, command).catch((error: unknown) => log.error({ err: error }, 'publishing a command failed'))),
    core.events.on('device.access.revoked', ({ tenantId, deviceId }) =>
      void brokers.disconnectDevice(tenantId, deviceId).then((count) => count > 0 && log.info({ tenantId, deviceId, count }, 'revoked device disconnected'))),
    core.events.on('app.access.revoked', ({ tenantId, appId }) =>
      void brokers.disconnectPrincipal(tenantId, 'app', appId).then((count) => count > 0 && log.info({ tenantId, appId, count }, 'revoked app disconnected'))),
    // A person's ACL was computed at CONNECT from their role: dropped, they reconnect with the one they hold now.
    core.events.on('member.access.changed', ({ tenantId, userId, role }) =>
      void brokers.disconnectPrincipal(tenantId, 'user', userId).then((count) => count > 0 && log.info({ tenantId, userId, role, count }, 'member disconnected after a role change'))),
  ];

  const sockets = new Set<Duplex>();
  const track = (stream: Duplex) => {
    sockets.add(stream);
    stream.once('close', () => sockets.delete(stream));
  };

  // Nagle's algorithm would hold small PUBLISH/PUBACK packets back by up to 40 ms.
  const tcp = net.createServer({ noDelay: true }, (socket) => {
    track(socket);
    frontDoor.accept(socket, 'tcp', socket.remoteAddress);
  });
  const mqttPort = await listen(tcp, config.mqttPort, config.host, 'MQTT_PORT');

  let secure: tls.Server | undefined;
  let mqttsPort: number | undefined;
  const tlsConfig = await tlsOptions(config.mqtt);
  if (tlsConfig) {
    secure = tls.createServer(tlsConfig, (socket) => {
      socket.setNoDelay(true);
      track(socket);
      // Only a certificate that chains to MQTT_TLS_CLIENT_CA names a device; an unverified one is ignored.
      const certificateName = socket.authorized ? String(socket.getPeerCertificate().subject?.CN ?? '') || undefined : undefined;
      frontDoor.accept(socket, 'tls', socket.remoteAddress, certificateName);
    });
    secure.on('tlsClientError', (error) => log.debug({ err: error.message }, 'TLS handshake failed'));
    mqttsPort = await listen(secure, config.mqttsPort, config.host, 'MQTTS_PORT');
  }

  // MQTT over WebSocket on the HTTP server's /mqtt (subprotocol "mqtt", as MQTT.js and browsers ask).
  // ws buffers a whole message before the front door sees a byte (100 MiB by default, even before
  // CONNECT). A message holds one packet from MQTT.js on Node, but a browser's MQTT.js joins the packets
  // written in one tick into one message: twice the largest packet leaves room for that.
  const maxPayload = 2 * Math.max(config.mqtt.maxPacketBytes, config.mqtt.maxConnectBytes);
  const wss = new WebSocketServer({ noServer: true, maxPayload, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false) });
  deps.httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://x').pathname !== '/mqtt') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      track(stream);
      frontDoor.accept(stream, 'ws', request.socket.remoteAddress);
    });
  });

  log.info({ mqttPort, mqttsPort }, 'MQTT listening');
  return {
    mqttPort,
    mqttsPort,
    frontDoor,
    tenants: () => ({ running: brokers.tenantsRunning, withState: brokers.tenantsWithState }),
    async close() {
      unsubscribe.forEach((off) => off());
      tcp.close();
      secure?.close();
      wss.close();
      await brokers.closeAll();
      for (const stream of sockets) stream.destroy();
    },
  };
}
