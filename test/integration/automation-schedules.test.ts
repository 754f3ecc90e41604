import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { createTenant } from '../../src/core/tenants.js';
import { createEmptyDatabase } from '../support/database.js';
import { contextFor } from '../support/fixtures.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { metric } from '../support/metrics.js';
import { waitFor } from '../support/processes.js';

/**
 * Schedules fire once fleet-wide: two gateway processes' worth of schedulers
 * and runners (two gateways in this process) on one database, with one clock
 * the test moves instead of waiting for 02:30 to come.
 */
describe('automation schedules', () => {
  let now = new Date('2027-01-15T01:00:00Z'); // 02:00 in Berlin (CET, UTC+1)
  const clock = () => now;
  let url: string;
  const gateways: TestGateway[] = [];
  let tenantId: string;
  let automationId: string;
  const env = () => ({ DATABASE_URL: url, MQTT_PORT: '0', AUTOMATION_TICK_MS: '100', AUTOMATION_LATE_AFTER_MS: '60000' });
  const start = async () => {
    const gateway = await startTestGateway(env(), undefined, { clock });
    gateways.push(gateway);
    return gateway;
  };
  const core = () => gateways.at(-1)!.gateway.core;
  const owner = () => contextFor(tenantId, { roles: ['owner'] });
  const runs = async () => (await core().automations.runs(owner(), automationId)).items;
  /** Ticks of every running scheduler, at once: "nothing more" is shown after these, not after a sleep. */
  const tickAll = (live: TestGateway[]) => Promise.all(live.map((g) => g.gateway.core.automationScheduler.tick()));

  beforeAll(async () => {
    url = await createEmptyDatabase();
    const first = await start();
    const tenant = await createTenant(first.gateway.core.db, { slug: 'sched' });
    tenantId = tenant.id;
    await first.gateway.core.devices.register(await operatorContext(first.gateway.core.db, 'sched'), { name: 'heater-1', capabilities: [{ name: 'power' }] });
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close().catch(() => undefined);
  });

  it('a schedule set for 02:30 in the tenant\'s time zone fires once, at 01:30 UTC, with two gateways on one database', async () => {
    const [a, b] = [gateways[0]!, await start()];
    expect(await a.gateway.core.automations.setTimeZone(owner(), 'Europe/Berlin')).toBe('Europe/Berlin');
    const created = await a.gateway.core.automations.create(owner(), {
      name: 'night heat', trigger: { kind: 'schedule', cron: '30 2 * * *' }, actions: [{ kind: 'command', device: 'heater-1', command: 'turn_on' }],
    });
    automationId = created.id;
    expect(created.nextFireAt?.toISOString()).toBe('2027-01-15T01:30:00.000Z');

    now = new Date('2027-01-15T01:29:59.999Z');
    await tickAll([a, b]);
    expect(await runs()).toEqual([]);

    now = new Date('2027-01-15T01:30:00.250Z');
    await tickAll([a, b]);
    const [run] = await waitFor(async () => {
      const all = await runs();
      return all.length === 1 && all[0]!.status === 'succeeded' ? all : undefined;
    }, 10_000, 'the run at 02:30 done');
    expect(run).toMatchObject({ late: false, trigger: { kind: 'schedule', cron: '30 2 * * *', timeZone: 'Europe/Berlin' } });
    expect(run!.scheduledFor?.toISOString()).toBe('2027-01-15T01:30:00.000Z');
    // Both schedulers (timers and explicit ticks) have looked again since, and both runners drained: still one run, one command.
    await tickAll([a, b]);
    await tickAll([a, b]);
    await Promise.all([a, b].map((g) => g.gateway.core.automationRunner.drain()));
    expect(await runs()).toHaveLength(1);
    expect(await a.gateway.core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM commands c JOIN devices d ON d.id = c.device_id WHERE d.name = 'heater-1'`, [])).toEqual([{ n: 1 }]);
    expect((await a.gateway.core.automations.get(owner(), automationId)).nextFireAt?.toISOString()).toBe('2027-01-16T01:30:00.000Z');
  });

  it('after a restart that spans its time it fires once, marked late; several missed days are one late run', async () => {
    for (const gateway of gateways.splice(0)) await gateway.close();
    now = new Date('2027-01-16T03:10:00Z'); // 04:10 in Berlin: 02:30 passed while nothing ran
    const c = await start();
    const fired = await waitFor(async () => {
      const all = await runs();
      return all.length === 2 && all[0]!.status === 'succeeded' ? all : undefined;
    }, 10_000, 'the missed run, late');
    expect(fired[0]).toMatchObject({ late: true });
    expect(fired[0]!.scheduledFor?.toISOString()).toBe('2027-01-16T01:30:00.000Z');
    await tickAll([c]);
    expect(await runs()).toHaveLength(2);
    expect(await metric(c.base, 'gatehouse_automation_scheduler_lag_seconds_count', {})).toBeGreaterThanOrEqual(1);
    expect(await metric(c.base, 'gatehouse_automation_runs_total', { outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);

    // Down for three nights: one run, for the first missed firing, then the next one is tomorrow's.
    await c.close();
    gateways.splice(0);
    now = new Date('2027-01-19T05:00:00Z');
    const d = await start();
    const after = await waitFor(async () => {
      const all = await runs();
      return all.length === 3 && all[0]!.status === 'succeeded' ? all : undefined;
    }, 10_000, 'one run for three missed nights');
    expect(after[0]).toMatchObject({ late: true });
    expect(after[0]!.scheduledFor?.toISOString()).toBe('2027-01-17T01:30:00.000Z');
    await tickAll([d]);
    expect(await runs()).toHaveLength(3);
    expect((await d.gateway.core.automations.get(owner(), automationId)).nextFireAt?.toISOString()).toBe('2027-01-20T01:30:00.000Z');
  });
});
