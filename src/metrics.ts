import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per gateway instance (not prom-client's global one),
 * so that several gateways in one process (tests) do not share counters.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'gatehouse_http_requests_total',
      help: 'HTTP requests served, by method, route and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'gatehouse_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method and route.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    voiceIntents: new Counter({
      name: 'gatehouse_voice_intents_total',
      help: 'Voice platform requests served, by platform, intent (Google: EXECUTE per device command; Alexa: the directive as namespace.name) and the outcome the platform was answered (Google: SUCCESS, PENDING, OFFLINE, an errorCode, unauthorized; Alexa: the event sent, or the error type).',
      labelNames: ['platform', 'intent', 'outcome'] as const,
      registers: [registry],
    }),
    automationRuns: new Counter({
      name: 'gatehouse_automation_runs_total',
      help: 'Automation runs by outcome: succeeded, failed (an action failed), skipped (conditions false, disabled, tenant suspended), limited (over the tenant\'s runs per minute), loop_stopped.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    automationTriggerToAction: new Histogram({
      name: 'gatehouse_automation_trigger_to_action_seconds',
      help: 'From a run\'s trigger (committed with its cause) to its first action starting.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    automationSchedulerLag: new Histogram({
      name: 'gatehouse_automation_scheduler_lag_seconds',
      help: 'How long after its time a schedule was fired (a firing missed during downtime shows its whole delay).',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400],
      registers: [registry],
    }),
    automationSchedulerTicks: new Counter({
      name: 'gatehouse_automation_scheduler_ticks_total',
      help: 'Automation scheduler ticks completed on this node, each having fired whatever was due (a tick that failed is not counted).',
      registers: [registry],
    }),
    writeFailures: new Counter({
      name: 'gatehouse_write_failures_total',
      help: 'Failed writes to PostgreSQL by writer: telemetry batches (not acknowledged; publishers resend) and device presence/state flushes (kept and retried).',
      labelNames: ['writer'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The embedded PostgreSQL's supervision, read at each scrape. */
export function registerDatabaseMetrics(metrics: Metrics, embeddedHealth: () => { running: boolean; restarts: number } | undefined): void {
  new Gauge({
    name: 'gatehouse_embedded_postgres_up',
    help: 'Whether the embedded PostgreSQL server process runs (absent with DATABASE_URL).',
    registers: [metrics.registry],
    collect() {
      const health = embeddedHealth();
      if (health) this.set(health.running ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_embedded_postgres_restarts',
    help: 'Times the embedded PostgreSQL server was started again after it exited, since the gateway started.',
    registers: [metrics.registry],
    collect() {
      const health = embeddedHealth();
      if (health) this.set(health.restarts);
    },
  });
}
