import { randomUUID } from 'node:crypto';
import { createAuth, type Auth } from '../auth/auth-service.js';
import type { FailureLimitsFactory } from '../auth/failure-limiter.js';
import { VoicePins } from '../auth/voice-pins.js';
import { automationAuditContext, automationContext } from '../auth/automation-principal.js';
import { AutomationRunner, type AutomationObserver } from './automations/automation-runner.js';
import { AutomationScheduler } from './automations/automation-scheduler.js';
import { AutomationService } from './automations/automation-service.js';
import { AutomationTriggers } from './automations/automation-triggers.js';
import { SceneService } from './scenes/scene-service.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { RepeatedFailures } from '../repeated-failures.js';
import { CommandService } from './commands/command-service.js';
import { Approvals } from './commands/approvals.js';
import { PinGate } from './commands/pin-gate.js';
import { DeviceEvents } from './devices/device-events.js';
import { DeviceRegistry } from './devices/device-registry.js';
import { NodePresence } from './devices/node-presence.js';
import { DeviceStateWriter } from './devices/device-state-writer.js';
import { LocalEventBus, type EventBus, type EventChannel } from './event-bus.js';
import { SECURITY_EVENTS_RECORDED } from './audit-log.js';
import { NotificationOutbox } from './notifications/notification-outbox.js';
import { NotificationSettings } from './notifications/notification-settings.js';
import { DeadLetters } from './notifications/dead-letters.js';
import { OfflineWatch } from './notifications/offline-watch.js';
import { AccessPolicy } from './policy/access-policy.js';
import { AlexaGrants } from './alexa-grants.js';
import { PushTokens } from './push/push-tokens.js';
import { loadKeyring } from './push/credential-keyring.js';
import { PushCredentials } from './push/push-credentials.js';
import { SecurityEventReader } from './security-event-reader.js';
import { TelemetryWriter, type TelemetryWriterObserver } from './telemetry/telemetry-writer.js';
import { TelemetryReader } from './telemetry/telemetry-reader.js';
import { RetentionSettings } from './telemetry/retention-settings.js';
import { TelemetryRetention } from './telemetry/telemetry-retention.js';
import { VoiceAccounts } from './voice-accounts.js';
import { VoiceCredentials } from './voice-credentials.js';
import { VoicePolicy } from './voice-policy.js';

/** The core services every adapter stands on; adapters receive this and nothing else of the core. */
export type Core = {
  db: Database;
  events: EventBus;
  policy: AccessPolicy;
  devices: DeviceRegistry;
  /** Device events (devices/<name>/events[/<kind>]): `record` stores one and announces `device.event`. */
  deviceEvents: DeviceEvents;
  auth: Auth;
  commands: CommandService;
  /** Critical commands wait here for a person: approve → pending → the device; deny → denied. */
  approvals: Approvals;
  /** Per tenant and voice platform: which capabilities voice may use, which need the PIN. */
  voicePolicy: VoicePolicy;
  /** Linked voice accounts (Google's agentUserId, unlink) and the VOICE_INTENT audit of what voice asked. */
  voiceAccounts: VoiceAccounts;
  /** Google service accounts for Home Graph, sealed at rest: set by the operator, opened by the reporter. */
  voiceCredentials: VoiceCredentials;
  /** Setting, changing and resetting voice PINs. */
  voicePins: VoicePins;
  /** Alexa's permission to send events (AcceptGrant): Login with Amazon tokens per person and skill, sealed at rest. */
  alexaGrants: AlexaGrants;
  /** Provider credentials, sealed at rest: set by the operator, opened by the push workers. */
  pushCredentials: PushCredentials;
  /** People's APNs and FCM tokens. */
  pushTokens: PushTokens;
  /** Notification rules (tenant), preferences and history (person). */
  notifications: NotificationSettings;
  /** Announces devices offline for longer than their tenant's rule allows (swept twice a minute). */
  offlineWatch: OfflineWatch;
  /** Push deliveries that failed for good: listed and sent again by admins. */
  deadLetters: DeadLetters;
  /** Scenes: named lists of device commands, activated under the caller's own context (web, mobile, voice). */
  scenes: SceneService;
  /** Automations: managed by people, run as the tenant's automation principal by the runner; schedules and offline triggers by the scheduler. */
  automations: AutomationService;
  automationRunner: AutomationRunner;
  automationScheduler: AutomationScheduler;
  /** The tenant's audit log, read back. */
  securityEvents: SecurityEventReader;
  telemetry: TelemetryWriter;
  telemetryReader: TelemetryReader;
  deviceState: DeviceStateWriter;
  retention: RetentionSettings;
  telemetryMaintenance: TelemetryRetention;
  /** Stops the timers and writes everything buffered (graceful shutdown). */
  stop(): Promise<void>;
};

export type CoreOptions = {
  config: Pick<Config, 'auth' | 'telemetry' | 'voicePin' | 'push' | 'automations' | 'fleetNodeTtlMs'>;
  /** The automations' clock (schedules, time windows, offline triggers), from the composition root (CLOCK_START, or a test's). */
  clock?: Clock;
  automationObserver?: AutomationObserver;
  /** Whether this process runs automations and ticks schedules (the gateway: yes; a one-off CLI command: no). */
  runAutomations?: boolean;
  /** The tokens' issuer, asked at each use (PublicUrl: without PUBLIC_URL it is known once the HTTP port is bound). */
  issuer: () => string;
  log: Logger;
  telemetryObserver?: TelemetryWriterObserver;
  /** Hears of each failed write of presence or state (retried every second); by default each is logged. */
  deviceStateFailed?: (error: Error) => void;
  /** The fleet's channel for FLEET_EVENTS when several nodes run (the composition root's Fleet); none on a single node. */
  eventChannel?: EventChannel;
  /** Brute-force lockouts shared by the fleet (src/fleet/limits); by default src/auth's own, in this process. */
  failureLimits?: FailureLimitsFactory;
};

export async function createCore(db: Database, { config, issuer, log, telemetryObserver, deviceStateFailed, clock = () => new Date(), automationObserver, runAutomations = true, eventChannel, failureLimits }: CoreOptions): Promise<Core> {
  const events: EventBus = new LocalEventBus((event, error) => log.error({ err: error, event }, 'an event listener failed'), eventChannel);
  const policy = new AccessPolicy(db);
  const outbox = new NotificationOutbox(events);
  db.join(SECURITY_EVENTS_RECORDED, (tx, recorded) => outbox.securityEventsRecorded(tx, recorded));
  const pins = new PinGate(db, events, outbox, config.voicePin);
  const voicePolicy = new VoicePolicy(db, policy);
  // The runner's wake is bound once the runner exists (below); triggers only call it after a commit.
  let wakeRunner = () => undefined as void;
  const triggers = new AutomationTriggers(events, outbox, automationAuditContext, {
    runsPerMinute: config.automations.runsPerMinute, loopBound: config.automations.loopBound, loopWindowSeconds: config.automations.loopWindowSeconds,
  }, clock, () => wakeRunner(), (status) => automationObserver?.runFinished?.(status));
  const commands = new CommandService(db, policy, pins, events, voicePolicy, outbox, triggers);
  const approvals = new Approvals(db, policy, events, (id) => commands.wake(id));
  const telemetry = new TelemetryWriter(db, {
    maxBatch: config.telemetry.batchMax,
    maxBatchBesideLight: config.telemetry.batchMaxBesideLight,
    heavyShareBesideLight: config.telemetry.heavyShareBesideLight,
    maxDelayMs: config.telemetry.batchDelayMs,
    highWater: config.telemetry.queueHighWater,
    highWaterBesideLight: config.telemetry.queueHighWaterBesideLight,
    concurrency: config.telemetry.writers,
    bulkConcurrency: config.telemetry.bulkWriters,
  }, telemetryObserver);
  const node = new NodePresence(db, randomUUID(), events, config.fleetNodeTtlMs);
  const deviceState = new DeviceStateWriter(db, 1000, deviceStateFailed ?? ((error) => log.error({ err: error }, 'writing device presence or state failed; kept, retrying')), events,
    (tx, tenantId, states) => triggers.statesWritten(tx, tenantId, states), node.nodeId);
  await node.heartbeat();
  const presenceFailures = new RepeatedFailures<unknown>((count, error) => log.error({ err: error, failures: count }, 'the node heartbeat or presence sweep failed'), 60_000);
  const presence = setInterval(() => {
    node.heartbeat()
      .then((swept) => {
        if (swept) deviceState.recordPresenceAgain();
        return node.sweep();
      })
      .catch((error: unknown) => presenceFailures.record(error));
  }, config.fleetNodeTtlMs / 3);
  presence.unref();
  // Every second: during an outage that is one failure a second, logged when it starts and then twice a minute.
  const expiryFailures = new RepeatedFailures<unknown>((count, error) => log.error({ err: error, failures: count }, 'expiring commands failed'), 30_000);
  const expiry = setInterval(() => commands.expireOverdue().catch((error: unknown) => expiryFailures.record(error)), 1000);
  expiry.unref();
  const offlineWatch = new OfflineWatch(db, outbox);
  // One keyring seals every secret Gatehouse keeps for a provider: push credentials and Alexa's grants.
  const keyring = await loadKeyring(config.push.keyringFile);
  const offlineFailures = new RepeatedFailures<unknown>((count, error) => log.error({ err: error, failures: count }, 'announcing offline devices failed'), 60_000);
  const offlineSweep = setInterval(() => offlineWatch.sweep().catch((error: unknown) => offlineFailures.record(error)), 30_000);
  offlineSweep.unref();
  const retention = new TelemetryRetention(db, { ...config.telemetry.retention, batchRows: 5_000, maxBatches: 200 });
  const maintain = () => retention.maintain().then(
    (report) => { if (report.created.length + report.dropped.length + report.deleted > 0) log.info(report, 'telemetry partitions and retention maintained'); },
    (error: unknown) => log.error({ err: error }, 'telemetry maintenance failed; the next run tries again'));
  // Partitions ahead exist before the first row arrives; then every interval (any node; the advisory lock lets one work).
  await maintain();
  const maintenance = setInterval(() => void maintain(), config.telemetry.retention.intervalMs);
  maintenance.unref();
  const scenes = new SceneService(db, policy, commands);
  const automationFailures = new RepeatedFailures<unknown>((count, error) => log.error({ err: error, failures: count }, 'running automations failed'), 60_000);
  const automationRunner = new AutomationRunner(db, commands, scenes, outbox, (tenantId) => automationContext(db, tenantId),
    { pollMs: 5_000, leaseMs: config.automations.leaseMs, batch: 20 }, automationObserver, (error) => automationFailures.record(error));
  wakeRunner = automationRunner.wake;
  const automationScheduler = new AutomationScheduler(db, triggers, clock, { tickMs: config.automations.tickMs, lateAfterMs: config.automations.lateAfterMs },
    automationObserver, (error) => automationFailures.record(error));
  if (runAutomations) {
    automationRunner.start();
    automationScheduler.start();
  }
  return {
    scenes, automationRunner, automationScheduler,
    automations: new AutomationService(db, policy, commands, clock),
    db, events, policy, commands, approvals, voicePolicy, telemetry, deviceState,
    voicePins: new VoicePins(db, policy, pins),
    voiceAccounts: new VoiceAccounts(db, policy),
    devices: new DeviceRegistry(db, policy, events),
    deviceEvents: new DeviceEvents(db, policy, events, outbox, triggers),
    telemetryReader: new TelemetryReader(db, policy),
    retention: new RetentionSettings(db, policy, config.telemetry.retention.maxDays),
    telemetryMaintenance: retention,
    securityEvents: new SecurityEventReader(db, policy),
    pushTokens: new PushTokens(db, policy),
    pushCredentials: new PushCredentials(db, keyring, policy),
    alexaGrants: new AlexaGrants(db, keyring, policy),
    voiceCredentials: new VoiceCredentials(db, keyring),
    notifications: new NotificationSettings(db, policy),
    deadLetters: new DeadLetters(db, policy, events),
    offlineWatch,
    auth: await createAuth(db, policy, { issuer, sessionCacheMs: config.auth.sessionCacheMs, invitationTtlHours: config.auth.invitationTtlHours, events, log, failureLimits }),
    async stop() {
      await automationScheduler.stop();
      await automationRunner.stop();
      clearInterval(expiry);
      clearInterval(offlineSweep);
      clearInterval(maintenance);
      clearInterval(presence);
      await telemetry.flush();
      await deviceState.close();
      await node.leave().catch(() => undefined);
    },
  };
}
