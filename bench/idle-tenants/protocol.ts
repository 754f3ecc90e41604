/** Messages between the idle-tenants bench (idle-tenants.ts) and the gateway it measures (gateway.ts). */
export const PASSWORD = 'gd_idle-tenants-shared-secret';

/** Device n's credential: one device in each tenant idle-n. */
export const username = (n: number) => `sensor@idle-${n}`;

export type Sample = {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  external: number;
  /** aedes instances alive, when the gateway's brokers can be seen. */
  instances: number | undefined;
  /** aedes instances the garbage collector has freed. */
  instancesCollected: number;
  tenantsWithState: number | undefined;
};

export type Request = { cmd: 'sample' } | { cmd: 'empty-store'; count: number } | { cmd: 'stop' };
export type Reply = { cmd: 'ready'; mqttPort: number } | { cmd: 'sample'; sample: Sample } | { cmd: 'empty-store'; bytes: number | undefined };
