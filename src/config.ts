import path from 'node:path';
import { z } from 'zod';

/**
 * The gateway's whole configuration, read once at boot from the environment.
 * This is the only module that reads `process.env` (DESIGN.md §4.6); everything
 * else receives a `Config`.
 */

const port = (fallback: number) =>
  z.coerce.number().int('must be a whole number').min(0, 'must be 0..65535').max(65535, 'must be 0..65535').default(fallback);

const postgresUrl = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a URL like postgres://user:password@host:5432/database');

const schema = z.object({
  /** HTTP API, webhooks, /metrics and MQTT over WebSocket. 0 picks a free port. */
  HTTP_PORT: port(8080),
  /** Address the HTTP and MQTT listeners bind to. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** MQTT over TCP. 0 picks a free port. */
  MQTT_PORT: port(1883),
  /** MQTT over TLS; on when a certificate is configured. */
  MQTTS_PORT: port(8883),
  /** An existing PostgreSQL server. Unset: an embedded server with its data in DATA_DIR. */
  DATABASE_URL: postgresUrl.optional(),
  /** Where the embedded PostgreSQL keeps its data (and other local state). */
  DATA_DIR: z.string().min(1).default('./data'),
  /** Redis for scale-out; cluster mode when set. */
  REDIS_URL: z.string().url('must be a URL like redis://host:6379').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json (default when not a terminal) or pretty (default in a terminal). */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /**
   * The address users reach the gateway at: issuer of its tokens, the server in its OpenAPI document.
   * Unset: http://localhost:<port>, the port the HTTP listener is actually bound to (so HTTP_PORT=0 still names a real address).
   */
  PUBLIC_URL: z.string().url('must be an absolute URL like https://gateway.example.com').optional(),
  /**
   * Milliseconds a request may see a session's live state (revoked? user suspended? role now?) as cached:
   * removing a member, suspending a user or a logout bites within this long. 0..60 000; 0 reads Postgres on every request.
   */
  AUTH_SESSION_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  /** Hours an invitation link (POST /v1/members for someone new) stays valid. 1..720 (30 days). */
  INVITATION_TTL_HOURS: z.coerce.number().int().min(1).max(720).default(168),
  /** Wrong voice PINs in a row that lock the PIN (on every channel: the count lives in Postgres). 1..100. */
  VOICE_PIN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  /** Minutes a locked voice PIN stays locked. 1..1440. */
  VOICE_PIN_LOCK_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  /**
   * Milliseconds a Google EXECUTE waits for the device's result before answering PENDING. 0..8000:
   * Google gives a fulfillment a few seconds in all (developers.home.google.com/cloud-to-cloud/integration/query-execute).
   */
  GOOGLE_EXECUTE_WAIT_MS: z.coerce.number().int().min(0).max(8_000).default(4_000),
  /** The Actions project id: the audience of the google-assistant-signature of POST /voice/google/conversation. Unset: every request is refused (403). */
  GOOGLE_CONVERSATION_PROJECT_ID: z.string().min(1).optional(),
  /** The keys that signature is checked with: Google's by default; a test's JWKS. */
  GOOGLE_CONVERSATION_JWKS_URL: z.string().url('must be an absolute URL').default('https://www.googleapis.com/oauth2/v3/certs'),
  /** Home Graph's API (report state, request sync): Google's by default; an egress proxy's or a test's fake. */
  GOOGLE_HOMEGRAPH_URL: z.string().url('must be an absolute URL like https://homegraph.googleapis.com').default('https://homegraph.googleapis.com'),
  /** A PEM file of CA certificates to trust for Home Graph and its token endpoint instead of Node's (a proxy's, a fake's). */
  GOOGLE_HOMEGRAPH_CA: z.string().min(1).optional(),
  /**
   * Milliseconds state and presence changes gather before they go to Home Graph (one call per tenant and linked account
   * per interval, however often devices report); a failed call is retried from this long, doubling to 5 minutes. 50..60 000.
   */
  GOOGLE_REPORT_STATE_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  /** The keyring that seals push credentials at rest (AES-256-GCM); made with a fresh key on first start. Unset: DATA_DIR/push-credentials.key. */
  PUSH_CREDENTIAL_KEYRING: z.string().min(1).optional(),
  /** Push workers in this process; 0: this node sends no push (another does). */
  PUSH_WORKERS: z.coerce.number().int().min(0).max(16).default(1),
  /** Where APNs and FCM are (host:port), for an egress proxy or a test's fakes; unset: Apple's and Google's hosts. */
  PUSH_APNS_ENDPOINT: z.string().regex(/^[^:]+:\d+$/, 'host:port').optional(),
  PUSH_FCM_ENDPOINT: z.string().regex(/^[^:]+:\d+$/, 'host:port').optional(),
  /** A PEM file of CA certificates to trust for the providers instead of Node's (a proxy's, a fake's). */
  PUSH_PROVIDER_CA: z.string().min(1).optional(),
  /** Milliseconds a credential the provider refused pauses its tenant's deliveries. */
  PUSH_PAUSE_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(900_000),
  /**
   * Milliseconds a worker holds the deliveries it claimed: a process that dies mid-send leaves them to
   * another worker once this runs out. Keep it longer than a send may take (an APNs request times out after 5 s).
   */
  PUSH_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
  AUTOMATION_RUNS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(60),
  AUTOMATION_LOOP_BOUND: z.coerce.number().int().min(1).max(1_000).default(5),
  AUTOMATION_LOOP_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  AUTOMATION_TICK_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  AUTOMATION_LATE_AFTER_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  AUTOMATION_LEASE_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  /**
   * The Alexa Smart Home skills whose Lambda forwarder may call POST /voice/alexa/smart-home: `skillId=secret`
   * pairs, comma-separated. The forwarder names its skill in X-Gatehouse-Skill and signs with that skill's secret
   * (HMAC-SHA256, at least 32 characters). Unset: every directive is refused.
   */
  ALEXA_SMART_HOME_SECRETS: z.string().regex(/^[^=,\s]+=[^,\s]{32,}(,[^=,\s]+=[^,\s]{32,})*$/, 'skillId=secret pairs, comma-separated; each secret at least 32 characters').optional(),
  /** Milliseconds a Smart Home directive waits for the device's result (Alexa gives the skill about 8 s in all). 500..7 500. */
  ALEXA_COMMAND_WAIT_MS: z.coerce.number().int().min(500).max(7_500).default(6_000),
  /**
   * The Login with Amazon client of each Smart Home skill (its "Alexa Skill Messaging" credentials): `skillId=clientId:clientSecret`
   * pairs, comma-separated. AcceptGrant exchanges its code with it for the tokens that send events (ChangeReport, deferred
   * Responses). A skill without one answers AcceptGrant with ACCEPT_GRANT_FAILED and sends no events.
   */
  ALEXA_LWA_CLIENTS: z.string().regex(/^[^=,:\s]+=[^=,:\s]+:[^,\s]+(,[^=,:\s]+=[^=,:\s]+:[^,\s]+)*$/, 'skillId=clientId:clientSecret pairs, comma-separated').optional(),
  /** Login with Amazon's token endpoint (a test's fake). */
  ALEXA_LWA_TOKEN_URL: z.string().url().default('https://api.amazon.com/auth/o2/token'),
  /**
   * Alexa's event gateway, in the region of the skill's users: North America https://api.amazonalexa.com/v3/events,
   * Europe and India https://api.eu.amazonalexa.com/v3/events, Far East https://api.fe.amazonalexa.com/v3/events.
   */
  ALEXA_EVENT_GATEWAY_URL: z.string().url().default('https://api.amazonalexa.com/v3/events'),
  /** Milliseconds state changes gather before they go to Alexa as ChangeReports: a device reporting every 100 ms costs one per interval. 100..60 000. */
  ALEXA_REPORT_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /**
   * Seconds a command may still finish after Alexa was answered DeferredResponse (the asynchronous Response then goes to the
   * event gateway); only for people with a grant, otherwise a command lives ALEXA_COMMAND_WAIT_MS. 1..300.
   */
  ALEXA_DEFERRAL_SECONDS: z.coerce.number().int().min(1).max(300).default(30),
  /**
   * The Alexa custom skills (POST /voice/alexa) whose requests are served: skill ids, comma-separated (one per white-label
   * skill). The tenant comes from the linked account's token, never from the skill id. Unset: every request is refused.
   */
  ALEXA_SKILL_IDS: z.string().regex(/^[^,\s]+(,[^,\s]+)*$/, 'skill ids, comma-separated').optional(),
  /** The host (optionally host:port) a request's SignatureCertChainUrl must name. Amazon's: s3.amazonaws.com (port 443). A test's local server otherwise. */
  ALEXA_SKILL_CERT_HOST: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'host or host:port').default('s3.amazonaws.com'),
  /** A PEM file of the root certificates a request's signing chain must lead to. Unset: Node's bundled public roots (as Amazon's SDK verifier). */
  ALEXA_SKILL_ROOT_CA: z.string().min(1).optional(),
  /** A PEM file of CA certificates trusted for the HTTPS download of the signing chain (a test's local server). Unset: Node's. */
  ALEXA_SKILL_CERT_FETCH_CA: z.string().min(1).optional(),
  /**
   * For tests and demos: an ISO 8601 instant (with Z or an offset) at which the automations' clock starts when the process boots;
   * it then advances in real time. Schedules, time windows and offline absences are judged by it; nothing else is. Unset: real time.
   */
  CLOCK_START: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 instant like 2027-01-15T01:29:50Z' }).optional(),
  /** Milliseconds a graceful shutdown may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(9_000),
  /** Connections in the PostgreSQL pool. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** PEM certificate and key for MQTT over TLS. Unset: certs/server.crt and certs/server.key if `gatehouse certs dev` made them. */
  MQTT_TLS_CERT: z.string().min(1).optional(),
  MQTT_TLS_KEY: z.string().min(1).optional(),
  /** PEM CA whose client certificates authenticate devices (mTLS: the certificate's CN is the device's username). */
  MQTT_TLS_CLIENT_CA: z.string().min(1).optional(),
  /** Open MQTT connections on this node at most; more are refused with CONNACK 3. */
  MQTT_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(100_000),
  /** Connections at once per device or app credential (distinct client ids), so mqtt-bench can share one. */
  MQTT_MAX_CONNECTIONS_PER_CREDENTIAL: z.coerce.number().int().min(1).default(1_000),
  /** Largest PUBLISH payload routed, in bytes; larger ones are dropped and counted. */
  MQTT_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1).max(268_435_455).default(256 * 1024),
  /** Largest packet after CONNECT, in bytes, enforced while it is read: over it the connection is closed. A PUBLISH under it but over MQTT_MAX_PAYLOAD_BYTES is dropped and counted. */
  MQTT_MAX_PACKET_BYTES: z.coerce.number().int().min(1024).max(268_435_460).default(1024 * 1024),
  /** Largest CONNECT packet, in bytes: before authentication nothing more is buffered, and a CONNECT that declares more is refused at once. */
  MQTT_MAX_CONNECT_BYTES: z.coerce.number().int().min(256).max(1024 * 1024).default(64 * 1024),
  /** Filters in one SUBSCRIBE, and subscriptions one client may hold; more are refused (SUBACK 0x80). */
  MQTT_MAX_SUBSCRIPTIONS_PER_PACKET: z.coerce.number().int().min(1).default(100),
  MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT: z.coerce.number().int().min(1).default(1_000),
  /** How long a tenant's broker stays after its last connection left before it is released (ms). */
  MQTT_TENANT_IDLE_MS: z.coerce.number().int().min(0).max(24 * 3_600_000).default(60_000),
  /** Longest topic or filter, in bytes, and most levels. */
  MQTT_MAX_TOPIC_LENGTH: z.coerce.number().int().min(16).max(65_535).default(1024),
  MQTT_MAX_TOPIC_LEVELS: z.coerce.number().int().min(4).max(100).default(16),
  /** Per-connection token buckets: messages and payload bytes per second (burst: one second's worth). Over them: disconnected. */
  MQTT_RATE_MESSAGES: z.coerce.number().int().min(1).default(5_000),
  MQTT_RATE_BYTES: z.coerce.number().int().min(1024).default(5 * 1024 * 1024),
  /** Largest telemetry or state payload stored, in bytes. */
  TELEMETRY_MAX_BYTES: z.coerce.number().int().min(64).max(1024 * 1024).default(16 * 1024),
  /** Group commit: rows per batch at most, and how long QoS 0 rows wait for company (ms; QoS 1 rows never wait). */
  TELEMETRY_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(2_000),
  TELEMETRY_BATCH_DELAY_MS: z.coerce.number().int().min(0).max(1_000).default(10),
  /** Rows per batch at most for a heavy tenant while a light one writes too (its commits then flush less of the heavy one's WAL). */
  TELEMETRY_BATCH_MAX_BESIDE_LIGHT: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Share of the time a heavy tenant's batches may keep a writer busy while a light one writes too: the rest is headroom for the others. */
  TELEMETRY_HEAVY_SHARE_BESIDE_LIGHT: z.coerce.number().min(0.05).max(1).default(0.5),
  /** Telemetry batches written at once, each on its own pool connection (Postgres overlaps their commits). */
  TELEMETRY_WRITERS: z.coerce.number().int().min(1).max(32).default(4),
  TELEMETRY_BULK_WRITERS: z.coerce.number().int().min(1).max(32).default(1),
  /** Rows queued for Postgres per tenant beyond which that tenant's publishers are slowed (their sockets stop being read). */
  TELEMETRY_QUEUE_HIGH_WATER: z.coerce.number().int().min(100).default(10_000),
  /** The same for a heavy tenant while a light one writes: its batches are small then, and filling a deep queue flat out (a flood's onset) crowds the others. */
  TELEMETRY_QUEUE_HIGH_WATER_BESIDE_LIGHT: z.coerce.number().int().min(100).default(1_000),
  // Time partitions of telemetry and device events, made ahead by the gateway; retention in days per tenant (default 90) under this ceiling.
  TELEMETRY_PARTITION_UNIT: z.enum(['day', 'month']).default('day'),
  TELEMETRY_PARTITIONS_AHEAD: z.coerce.number().int().min(1).max(60).default(3),
  TELEMETRY_RETENTION_MAX_DAYS: z.coerce.number().int().min(1).max(36_500).default(365),
  TELEMETRY_MAINTENANCE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(3_600_000),
});

export type Config = {
  httpPort: number;
  host: string;
  mqttPort: number;
  mqttsPort: number;
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  logFormat: 'json' | 'pretty';
  /** PUBLIC_URL without a trailing slash; undefined until the composition root knows the HTTP port (public-url.ts). */
  publicUrl: string | undefined;
  shutdownTimeoutMs: number;
  databasePoolSize: number;
  auth: { sessionCacheMs: number; invitationTtlHours: number };
  voicePin: { maxFailures: number; lockMinutes: number };
  /** Smart Home skill secrets by skill id, and how long a directive waits for its device; Login with Amazon and the event gateway. */
  alexa: {
    skillSecrets: ReadonlyMap<string, string>; commandWaitMs: number;
    lwaClients: ReadonlyMap<string, { clientId: string; clientSecret: string }>; lwaTokenUrl: string; eventGatewayUrl: string;
    reportIntervalMs: number; deferralSeconds: number;
  };
  /** Custom skill: allowed skill ids, and where its signing certificates may come from and lead to (Amazon's by default). */
  alexaSkill: { skillIds: ReadonlySet<string>; certHost: string; rootCaFile?: string; certFetchCaFile?: string };
  google: { executeWaitMs: number; conversation: { projectId?: string; jwksUrl: string }; homeGraph: { baseUrl: string; caFile?: string; intervalMs: number } };
  /** CLOCK_START: where the automations' clock starts (tests and demos); undefined is real time. */
  clockStart: Date | undefined;
  /** Automations: per-tenant runs per minute, loop protection, the scheduler's tick and lateness, the runners' lease. */
  automations: { runsPerMinute: number; loopBound: number; loopWindowSeconds: number; tickMs: number; lateAfterMs: number; leaseMs: number };
  push: { keyringFile: string; workers: number; apnsEndpoint?: string; fcmEndpoint?: string; providerCa?: string; pauseMs: number; leaseMs: number };
  mqtt: {
    tlsCert: string | undefined;
    tlsKey: string | undefined;
    tlsClientCa: string | undefined;
    maxConnections: number;
    maxConnectionsPerCredential: number;
    maxPayloadBytes: number;
    maxPacketBytes: number;
    maxConnectBytes: number;
    maxSubscriptionsPerPacket: number;
    maxSubscriptionsPerClient: number;
    tenantIdleMs: number;
    maxTopicLength: number;
    maxTopicLevels: number;
    rateMessages: number;
    rateBytes: number;
  };
  telemetry: { maxBytes: number; batchMax: number; batchMaxBesideLight: number; heavyShareBesideLight: number; batchDelayMs: number; queueHighWater: number; queueHighWaterBesideLight: number; writers: number; bulkWriters: number;
    retention: { unit: 'day' | 'month'; ahead: number; maxDays: number; intervalMs: number } };
};

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Environment = Record<string, string | undefined>;

/** Empty strings count as unset, as a shell's `VAR= cmd` means. */
function withoutEmpty(env: Environment): Environment {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

export function loadConfig(env: Environment = process.env, isTerminal = Boolean(process.stdout.isTTY)): Config {
  const parsed = schema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        const given = env[name];
        // A secret is never echoed, not even a malformed one.
        const shown = given === undefined || name.includes('SECRET') || name === 'ALEXA_LWA_CLIENTS' ? '' : ` (got ${JSON.stringify(redactUrl(given))})`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    httpPort: e.HTTP_PORT,
    host: e.HOST,
    mqttPort: e.MQTT_PORT,
    mqttsPort: e.MQTTS_PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (isTerminal ? 'pretty' : 'json'),
    publicUrl: e.PUBLIC_URL?.replace(/\/$/, ''),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    auth: { sessionCacheMs: e.AUTH_SESSION_CACHE_MS, invitationTtlHours: e.INVITATION_TTL_HOURS },
    voicePin: { maxFailures: e.VOICE_PIN_MAX_FAILURES, lockMinutes: e.VOICE_PIN_LOCK_MINUTES },
    alexa: {
      skillSecrets: new Map((e.ALEXA_SMART_HOME_SECRETS?.split(',') ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as const)),
      commandWaitMs: e.ALEXA_COMMAND_WAIT_MS,
      lwaClients: new Map((e.ALEXA_LWA_CLIENTS?.split(',') ?? []).map((pair) => {
        const [skillId, client] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
        return [skillId, { clientId: client.slice(0, client.indexOf(':')), clientSecret: client.slice(client.indexOf(':') + 1) }] as const;
      })),
      lwaTokenUrl: e.ALEXA_LWA_TOKEN_URL,
      eventGatewayUrl: e.ALEXA_EVENT_GATEWAY_URL,
      reportIntervalMs: e.ALEXA_REPORT_INTERVAL_MS,
      deferralSeconds: e.ALEXA_DEFERRAL_SECONDS,
    },
    alexaSkill: {
      skillIds: new Set(e.ALEXA_SKILL_IDS?.split(',') ?? []), certHost: e.ALEXA_SKILL_CERT_HOST.toLowerCase(),
      rootCaFile: e.ALEXA_SKILL_ROOT_CA, certFetchCaFile: e.ALEXA_SKILL_CERT_FETCH_CA,
    },
    google: {
      executeWaitMs: e.GOOGLE_EXECUTE_WAIT_MS,
      conversation: { projectId: e.GOOGLE_CONVERSATION_PROJECT_ID, jwksUrl: e.GOOGLE_CONVERSATION_JWKS_URL },
      homeGraph: { baseUrl: e.GOOGLE_HOMEGRAPH_URL.replace(/\/$/, ''), caFile: e.GOOGLE_HOMEGRAPH_CA, intervalMs: e.GOOGLE_REPORT_STATE_INTERVAL_MS },
    },
    clockStart: e.CLOCK_START === undefined ? undefined : new Date(e.CLOCK_START),
    automations: {
      runsPerMinute: e.AUTOMATION_RUNS_PER_MINUTE, loopBound: e.AUTOMATION_LOOP_BOUND, loopWindowSeconds: e.AUTOMATION_LOOP_WINDOW_SECONDS,
      tickMs: e.AUTOMATION_TICK_MS, lateAfterMs: e.AUTOMATION_LATE_AFTER_MS, leaseMs: e.AUTOMATION_LEASE_MS,
    },
    push: {
      keyringFile: path.resolve(e.PUSH_CREDENTIAL_KEYRING ?? path.join(e.DATA_DIR, 'push-credentials.key')),
      workers: e.PUSH_WORKERS, apnsEndpoint: e.PUSH_APNS_ENDPOINT, fcmEndpoint: e.PUSH_FCM_ENDPOINT, providerCa: e.PUSH_PROVIDER_CA, pauseMs: e.PUSH_PAUSE_MS,
      leaseMs: e.PUSH_LEASE_MS,
    },
    mqtt: {
      tlsCert: e.MQTT_TLS_CERT,
      tlsKey: e.MQTT_TLS_KEY,
      tlsClientCa: e.MQTT_TLS_CLIENT_CA,
      maxConnections: e.MQTT_MAX_CONNECTIONS,
      maxConnectionsPerCredential: e.MQTT_MAX_CONNECTIONS_PER_CREDENTIAL,
      maxPayloadBytes: e.MQTT_MAX_PAYLOAD_BYTES,
      maxPacketBytes: e.MQTT_MAX_PACKET_BYTES,
      maxConnectBytes: e.MQTT_MAX_CONNECT_BYTES,
      maxSubscriptionsPerPacket: e.MQTT_MAX_SUBSCRIPTIONS_PER_PACKET,
      maxSubscriptionsPerClient: e.MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT,
      tenantIdleMs: e.MQTT_TENANT_IDLE_MS,
      maxTopicLength: e.MQTT_MAX_TOPIC_LENGTH,
      maxTopicLevels: e.MQTT_MAX_TOPIC_LEVELS,
      rateMessages: e.MQTT_RATE_MESSAGES,
      rateBytes: e.MQTT_RATE_BYTES,
    },
    telemetry: { maxBytes: e.TELEMETRY_MAX_BYTES, batchMax: e.TELEMETRY_BATCH_MAX, batchMaxBesideLight: e.TELEMETRY_BATCH_MAX_BESIDE_LIGHT, heavyShareBesideLight: e.TELEMETRY_HEAVY_SHARE_BESIDE_LIGHT, batchDelayMs: e.TELEMETRY_BATCH_DELAY_MS, queueHighWater: e.TELEMETRY_QUEUE_HIGH_WATER, queueHighWaterBesideLight: e.TELEMETRY_QUEUE_HIGH_WATER_BESIDE_LIGHT, writers: e.TELEMETRY_WRITERS, bulkWriters: e.TELEMETRY_BULK_WRITERS,
      retention: { unit: e.TELEMETRY_PARTITION_UNIT, ahead: e.TELEMETRY_PARTITIONS_AHEAD, maxDays: e.TELEMETRY_RETENTION_MAX_DAYS, intervalMs: e.TELEMETRY_MAINTENANCE_INTERVAL_MS } },
  };
}

/** Never echo a password back, even in an error message. */
function redactUrl(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
