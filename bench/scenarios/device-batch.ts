import { operatorContext } from '../../src/auth/operator.js';
import { DeviceRegistry } from '../../src/core/devices/device-registry.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import { createTenant } from '../../src/core/tenants.js';
import type { Database } from '../../src/db/database.js';

export type DeviceBatchResult = { scenario: 'device-batch'; devices: number; ms: number; msPerDevice: number; cpuMsPerDevice: number };

/**
 * Fleet provisioning as POST /v1/devices/batch does it (the same core service,
 * without HTTP): one batch of `devices` new devices with a capability and a
 * profile each, into a fresh tenant of the running gateway's database. Its
 * cost is argon2id, one hash per secret on two threads; the CPU figure is this
 * process's (hashing and building the statements), not Postgres's.
 */
export async function deviceBatchScenario(db: Database, devices: number): Promise<DeviceBatchResult> {
  const tenant = await createTenant(db, { slug: `bench-fleet-${Date.now()}` });
  const ctx = await operatorContext(db, tenant.slug);
  const registry = new DeviceRegistry(db, new AccessPolicy(db));
  const batch = Array.from({ length: devices }, (_, i) => ({
    name: `meter-${String(i).padStart(4, '0')}`, type: 'sensor', capabilities: [{ name: 'temperature' }],
    displayName: `Meter ${i}`, room: `Floor ${i % 10}`, nicknames: [`m${i}`],
  }));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const created = await registry.registerBatch(ctx, batch);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (created.length !== devices) throw new Error(`device-batch: ${created.length} of ${devices} devices created`);
  const round = (value: number) => Math.round(value * 100) / 100;
  return { scenario: 'device-batch', devices, ms: Math.round(ms), msPerDevice: round(ms / devices), cpuMsPerDevice: round((cpu.user + cpu.system) / 1000 / devices) };
}
