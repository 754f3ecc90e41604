import { CredentialVerifier } from '../../src/auth/credential-verifier.js';
import { FailureLimiter } from '../../src/auth/failure-limiter.js';
import { operatorContext } from '../../src/auth/operator.js';
import { DeviceRegistry } from '../../src/core/devices/device-registry.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import { createTenant } from '../../src/core/tenants.js';
import type { Database } from '../../src/db/database.js';
import { measure, percentiles } from '../stats.js';

export type CredentialsResult = {
  scenario: 'credentials';
  cold: { verifications: number; perSecond: number; cpuMsEach: number; latencyMs: ReturnType<typeof percentiles> };
  cached: { verifications: number; perSecond: number; cpuMsEach: number; latencyMs: ReturnType<typeof percentiles> };
  speedup: number;
};

/**
 * Device credential verification as a CONNECT does it (row lookup in Postgres +
 * secret check): cold (argon2id every time) versus warm (verification cache).
 */
export async function credentialsScenario(db: Database, options: { cold: number; cached: number; concurrency: number }): Promise<CredentialsResult> {
  const tenant = await createTenant(db, { slug: `bench-creds-${Date.now()}` });
  const ctx = await operatorContext(db, tenant.slug);
  const device = await new DeviceRegistry(db, new AccessPolicy(db)).register(ctx, { name: 'bench-device' });
  const limiter = new FailureLimiter();
  const verifier = new CredentialVerifier(db, limiter);

  const cold = await measure(options.cold, options.concurrency, async () => {
    verifier.forget(device.username);
    await verifier.verify(device.username, device.password);
  });
  await verifier.verify(device.username, device.password);
  const cached = await measure(options.cached, options.concurrency, () => verifier.verify(device.username, device.password));

  const summary = (run: typeof cold, count: number) => ({
    verifications: count,
    perSecond: Math.round((count / run.wallMs) * 1000),
    cpuMsEach: Math.round((run.cpuMs / count) * 1000) / 1000,
    latencyMs: percentiles(run.durations),
  });
  const coldSummary = summary(cold, options.cold);
  const cachedSummary = summary(cached, options.cached);
  return { scenario: 'credentials', cold: coldSummary, cached: cachedSummary, speedup: Math.round(cachedSummary.perSecond / coldSummary.perSecond) };
}
