import { Counter, Gauge, type Registry } from 'prom-client';
import type { Fleet, FleetCounters } from './fleet.js';

/**
 * The fleet on /metrics, read at each scrape: whether this node reaches the
 * others, and what crossed. A single node shows `gatehouse_fleet_degraded 0`
 * and no traffic.
 */
export function registerFleetMetrics(registry: Registry, fleet: Fleet): void {
  new Gauge({
    name: 'gatehouse_fleet_degraded',
    help: 'Whether this node cannot reach Redis (1): it serves its own clients, and nothing crosses to or from the other nodes meanwhile.',
    registers: [registry],
    collect() {
      this.set(fleet.health().degraded ? 1 : 0);
    },
  });
  counted(registry, fleet, 'gatehouse_fleet_frames_total', 'MQTT messages between this node and the others, by outcome: sent, received, dropped (Redis unreachable), unreadable.', {
    sent: 'framesSent', received: 'framesReceived', dropped: 'framesDropped', unreadable: 'badFrames',
  });
  counted(registry, fleet, 'gatehouse_fleet_events_total', 'Fleet-wide core events (revocations, command status) between this node and the others, by outcome: sent, received, dropped (more than the backlog kept while Redis was unreachable).', {
    sent: 'eventsSent', received: 'eventsReceived', dropped: 'eventsDropped',
  });
}

function counted(registry: Registry, fleet: Fleet, name: string, help: string, outcomes: Record<string, keyof FleetCounters>): void {
  new Counter({
    name, help, labelNames: ['outcome'] as const, registers: [registry],
    collect() {
      const counters = fleet.counters();
      if (!counters) return;
      this.reset();
      for (const [outcome, key] of Object.entries(outcomes)) this.inc({ outcome }, counters[key]);
    },
  });
}
