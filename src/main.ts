import type { AddressInfo } from 'node:net';
import { buildApi, type HttpApp } from './api/app.js';
import { googleRoutes } from './voice/google/routes.js';
import { startHomeGraph, type HomeGraphReporter } from './voice/google/home-graph/home-graph-reporter.js';
import { stateReporterContext } from './auth/state-reporter.js';
import { BrokerMetrics } from './broker/broker-metrics.js';
import { startMqttBroker, type MqttBroker } from './broker/mqtt-broker.js';
import type { Config } from './config.js';
import { startClock, type Clock } from './clock.js';
import { startPush } from './push/push-service.js';
import { alexaRoutes } from './voice/alexa-routes.js';
import { alexaSkillRoutes } from './voice/alexa-skill/routes.js';
import { createCore, type Core } from './core/create-core.js';
import { GatewayError } from './core/errors.js';
import { openDatabase } from './db/open.js';
import { createFleet } from './fleet/create-fleet.js';
import { NoticeListener, withNotices } from './fleet/operator-notices.js';
import type { Fleet } from './fleet/fleet.js';
import { createFleetLimits, type FleetLimits } from './fleet/limits/index.js';
import { registerFleetMetrics } from './fleet/fleet-metrics.js';
import { flushLogsSync, type Logger } from './logger.js';
import { connectFleetSessions, type FleetSessions } from './fleet/persistence/index.js';
import { createMetrics, registerDatabaseMetrics } from './metrics.js';
import { PublicUrl } from './public-url.js';
import { RepeatedFailures } from './repeated-failures.js';

export type Gateway = {
  core: Core;
  /** What this node shares with the other nodes (in memory when it is the only one). */
  fleet: Fleet;
  http: HttpApp;
  httpPort: number;
  /** PUBLIC_URL, or http://localhost:<httpPort>: the tokens' issuer. */
  publicUrl: string;
  mqttPort: number;
  mqttsPort: number | undefined;
  databaseUrl: string;
  /** Stops accepting, finishes in-flight work, closes the pool, stops the embedded server. */
  close(): Promise<void>;
};

async function listen(app: HttpApp, port: number, host: string, variable: string): Promise<number> {
  try {
    await app.listen({ port, host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new GatewayError('PORT_IN_USE', `${variable} ${port} is already in use on ${host}; stop the other process or choose another port.`);
    if (code === 'EACCES') throw new GatewayError('PORT_IN_USE', `${variable} ${port} needs privileges this process does not have; choose a port above 1023.`);
    throw error;
  }
  return (app.server.address() as AddressInfo).port;
}

/** The composition root: config → database → core → adapters. */
export type GatewayOptions = {
  /** The automations' clock (schedules, time windows, offline triggers): tests in this process move it instead of waiting. Unset: CLOCK_START's, or real time. */
  clock?: Clock;
};

export async function startGateway(config: Config, log: Logger, options: GatewayOptions = {}): Promise<Gateway> {
  if (config.redisUrl && !config.databaseUrl) {
    throw new GatewayError('CONFIG_INVALID', 'REDIS_URL is set, so this node is one of several, but DATABASE_URL is not: each node would start its own embedded PostgreSQL '
      + 'in its DATA_DIR and the nodes would share no devices, credentials or commands. Give every node the same DATABASE_URL (a PostgreSQL server they all reach), '
      + 'or unset REDIS_URL to run a single node.');
  }
  const database = await openDatabase(config, log, { adoptOrphan: true, migrate: true });
  let fleet: Fleet | undefined;
  let notices: NoticeListener | undefined;
  let limits: FleetLimits | undefined;
  let http: HttpApp | undefined;
  let broker: MqttBroker | undefined;
  let core: Core | undefined;
  let push: { stop(): Promise<void> } | undefined;
  let homeGraph: HomeGraphReporter | undefined;
  let sessions: FleetSessions | undefined;
  const metrics = createMetrics();
  const publicUrl = new PublicUrl(config.publicUrl);
  registerDatabaseMetrics(metrics, () => database.embeddedHealth());
  // During an outage every batch and every state flush fails: logged when it starts and then with a count, not each.
  const failedBatches = new RepeatedFailures<{ rows: number; error: Error }>((count, { rows, error }) =>
    log.error({ err: error, rows, failedBatches: count }, 'telemetry batches failed; their publishers get no PUBACK and will resend'));
  const failedStateWrites = new RepeatedFailures<Error>((count, error) =>
    log.error({ err: error, failedFlushes: count }, 'writing device presence or state failed; kept, retrying every second'), 30_000);
  try {
    fleet = await createFleet(config, log);
    notices = new NoticeListener(database.connectionString, fleet.seenOnce('operator-notice'), log.child({ component: 'operator-notices' }));
    await notices.start();
    registerFleetMetrics(metrics.registry, fleet);
    limits = createFleetLimits(fleet, {
      maxConnectionsPerCredential: config.mqtt.maxConnectionsPerCredential, connectsPerSecondPerCredential: config.mqtt.connectRatePerCredential,
      tenantRates: { messagesPerSecond: config.mqtt.tenantRateMessages, bytesPerSecond: config.mqtt.tenantRateBytes }, nodeTtlMs: config.fleetNodeTtlMs, settleMs: 200,
    }, log);
    const node = fleet;
    const brokerMetrics = new BrokerMetrics(metrics.registry, {
      connections: () => broker?.frontDoor.connections ?? 0,
      telemetryQueue: () => core?.telemetry.depth ?? 0,
      tenants: () => broker?.tenants() ?? { running: 0, withState: 0 },
    });
    core = await createCore(database.db, {
      config, log, clock: options.clock ?? startClock(config.clockStart), eventChannel: withNotices(fleet.events, notices), failureLimits: limits.failureLimits,
      automationObserver: {
        runFinished: (outcome) => metrics.automationRuns.inc({ outcome }),
        triggerToAction: (seconds) => metrics.automationTriggerToAction.observe(seconds),
        schedulerLag: (seconds) => metrics.automationSchedulerLag.observe(seconds),
        schedulerTicked: () => metrics.automationSchedulerTicks.inc(),
      },
      issuer: () => publicUrl.href,
      telemetryObserver: {
        batchWritten: (rows, seconds) => {
          brokerMetrics.batchRows.observe(rows);
          brokerMetrics.commitSeconds.observe(seconds);
        },
        batchFailed: (rows, error) => {
          metrics.writeFailures.inc({ writer: 'telemetry' });
          failedBatches.record({ rows, error });
        },
      },
      deviceStateFailed: (error) => {
        metrics.writeFailures.inc({ writer: 'device_state' });
        failedStateWrites.record(error);
      },
    });
    // The Alexa plugin's closure needs the core as it is now, not the variable.
    const voiceCore = core;
    http = await buildApi({
      core, log, metrics, publicUrl: () => publicUrl.href, fleet: () => node.health(),
      adapterRoutes: [
        googleRoutes({ core, executeWaitMs: config.google.executeWaitMs, conversation: config.google.conversation, count: (intent, outcome) => metrics.voiceIntents.inc({ platform: 'google', intent, outcome }) }),
        async (app) => {
          await app.register(alexaRoutes, {
            core: voiceCore, config: config.alexa, log, seen: node.seenOnce('alexa-directive'),
            answered: (directive, outcome) => metrics.voiceIntents.inc({ platform: 'alexa', intent: directive, outcome }),
          });
        },
        async (app) => {
          await app.register(alexaSkillRoutes, {
            core: voiceCore, log: log.child({ component: 'alexa-skill' }), config: config.alexaSkill, waitMs: config.alexa.commandWaitMs, seen: node.seenOnce('alexa-request'),
            count: (intent, outcome) => metrics.voiceIntents.inc({ platform: 'alexa', intent, outcome }),
          });
        },
      ],
    });
    push = startPush(core, config.push, log, metrics.registry);
    const homeGraphLog = log.child({ component: 'google-home-graph' });
    homeGraph = startHomeGraph(core, config.google.homeGraph, (tenantId) => stateReporterContext(tenantId, 'google'),
      (what, tenantId, error) => homeGraphLog.warn({ err: error, tenantId }, `Home Graph ${what} failed; retrying with backoff`));
    // With REDIS_URL, sessions live in Redis and a client id connects once across the fleet.
    if (config.redisUrl) sessions = await connectFleetSessions(config.redisUrl, log);
    broker = await startMqttBroker({ core, config, log, metrics: brokerMetrics, httpServer: http.server, fleet, limits, sessions });
    const httpPort = await listen(http, config.httpPort, config.host, 'HTTP_PORT');
    // Only now is the port known when HTTP_PORT=0; until here nothing has issued a token.
    publicUrl.listening(httpPort);
    log.info({ httpPort, publicUrl: publicUrl.href, mqttPort: broker.mqttPort, mqttsPort: broker.mqttsPort }, 'gatehouse is serving');
    // Whoever watches the log (an operator, a supervisor) reads "serving" as soon as requests are answered.
    flushLogsSync(log);
    const [server, mqtt, services, notifier, reporter, shared, counters, fleetSessions, operatorNotices] = [http, broker, core, push, homeGraph, fleet, limits, sessions, notices];
    let closing: Promise<void> | undefined;
    return {
      core: services,
      fleet: shared,
      http: server,
      httpPort,
      publicUrl: publicUrl.href,
      mqttPort: mqtt.mqttPort,
      mqttsPort: mqtt.mqttsPort,
      databaseUrl: database.connectionString,
      close() {
        closing ??= (async () => {
          await operatorNotices.close();
          await mqtt.close();
          await fleetSessions?.close();
          await server.close();
          await notifier.stop();
          await reporter.close();
          // QoS 0 telemetry still buffered, presence and state: written before the pool goes.
          await services.stop();
          // After the brokers (their connections gave their slots back), before the connection it shares.
          await counters.close();
          // After the brokers (their emitters leave the tenants' channels) and the core (its last events go out).
          await shared.close();
          await database.close();
          log.info('gatehouse stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await notices?.close().catch(() => undefined);
    await broker?.close().catch(() => undefined);
    await sessions?.close().catch(() => undefined);
    await http?.close().catch(() => undefined);
    await push?.stop().catch(() => undefined);
    await homeGraph?.close().catch(() => undefined);
    await core?.stop().catch(() => undefined);
    await limits?.close().catch(() => undefined);
    await fleet?.close().catch(() => undefined);
    await database.close();
    throw error;
  }
}
