import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import { call } from '../support/gateway.js';
import { metric } from '../support/metrics.js';
import { runCli, waitFor } from '../support/processes.js';
import { spawnUrlGateway, type UrlGateway } from '../support/url-gateway.js';

type Run = { id: string; status: string; late: boolean; scheduledFor: string | null; trigger: Record<string, unknown> };

/**
 * Schedules fire once fleet-wide: two `gatehouse start` processes on one
 * database, each with its clock started by CLOCK_START a few seconds before
 * 02:30 in the tenant's time zone (instead of waiting for the night). What
 * fired, and when by the automations' clock, is read from the run history,
 * never from the test's wall clock.
 */
describe('automation schedules, two gateway processes on one database', () => {
  let url: string;
  const running = new Set<UrlGateway>();
  const email = 'owner@sched.test';
  const password = 'correct horse battery';
  let automationId: string;

  /** A gateway process whose automations' clock starts at `clockStart`. */
  async function start(clockStart: string): Promise<UrlGateway & { token: string }> {
    const gateway = await spawnUrlGateway(url, { CLOCK_START: clockStart, AUTOMATION_TICK_MS: '100', AUTOMATION_LATE_AFTER_MS: '60000' });
    running.add(gateway);
    const login = await call<{ access_token: string }>(gateway.base, 'POST', '/v1/auth/login', { body: { email, password, tenant: 'sched' } });
    expect(login.status).toBe(200);
    return { ...gateway, token: login.body.access_token };
  }
  async function stop(...gateways: UrlGateway[]): Promise<void> {
    for (const gateway of gateways) {
      expect(await gateway.stop()).toMatchObject({ code: 0 });
      running.delete(gateway);
    }
  }
  const runs = async (gateway: { base: string; token: string }) => {
    const page = await call<{ items: Run[] }>(gateway.base, 'GET', `/v1/automations/${automationId}/runs`, { token: gateway.token });
    expect(page.status).toBe(200);
    return page.body.items;
  };
  const nextFireAt = async (gateway: { base: string; token: string }) =>
    (await call<{ nextFireAt: string | null }>(gateway.base, 'GET', `/v1/automations/${automationId}`, { token: gateway.token })).body.nextFireAt;
  async function heaterCommands(): Promise<number> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM commands c JOIN devices d ON d.id = c.device_id WHERE d.name = 'heater-1'`)).rows[0]!.n;
    } finally {
      await client.end();
    }
  }
  /** Each of `runs` finished and the newest the one expected: both processes' runners are done with it. */
  const settled = (gateway: { base: string; token: string }, count: number, timeoutMs = 20_000) => waitFor(async () => {
    const all = await runs(gateway);
    return all.length === count && all.every((run) => run.status === 'succeeded') ? all : undefined;
  }, timeoutMs, `${count} finished runs`);
  /** The sum of one metric over processes (which of them fired is theirs to decide). */
  const total = async (gateways: UrlGateway[], name: string, labels: Record<string, string>) =>
    (await Promise.all(gateways.map((g) => metric(g.base, name, labels)))).reduce((sum, value) => sum + value, 0);
  /**
   * Waits until each process's scheduler has completed `more` ticks after this call. A tick is counted once its
   * transaction committed, and all but the first begin after the call: any second firing they made is in the run history
   * when this returns. The marker that nothing fired again, in place of a sleep a slow machine could outrun.
   */
  async function ticked(gateways: UrlGateway[], more = 10): Promise<void> {
    const ticks = () => Promise.all(gateways.map((g) => metric(g.base, 'gatehouse_automation_scheduler_ticks_total')));
    const from = await ticks();
    await waitFor(async () => ((await ticks()).every((n, i) => n >= from[i]! + more) ? true : undefined), 30_000, `${more} more scheduler ticks on each process`);
  }

  beforeAll(async () => {
    url = await createEmptyDatabase();
    // The tenant, its owner and its device, and the schedule, made by a first process whose clock is well before 02:30.
    const setup = await spawnUrlGateway(url, { CLOCK_START: '2027-01-15T00:00:00Z' });
    running.add(setup);
    for (const args of [
      ['tenant', 'create', 'sched'],
      ['user', 'create', '--tenant', 'sched', '--email', email, '--password', password, '--role', 'owner'],
      ['device', 'create', '--tenant', 'sched', '--name', 'heater-1', '--capability', 'power'],
    ]) {
      const done = await runCli([...args, '--json'], setup.env);
      expect(done.code, done.stderr).toBe(0);
    }
    const login = await call<{ access_token: string }>(setup.base, 'POST', '/v1/auth/login', { body: { email, password, tenant: 'sched' } });
    const token = login.body.access_token;
    expect((await call(setup.base, 'PUT', '/v1/automations/time-zone', { token, body: { timeZone: 'Europe/Berlin' } })).status).toBe(200);
    const created = await call<{ id: string; nextFireAt: string }>(setup.base, 'POST', '/v1/automations', {
      token, body: { name: 'night heat', trigger: { kind: 'schedule', cron: '30 2 * * *' }, actions: [{ kind: 'command', device: 'heater-1', command: 'turn_on' }] },
    });
    expect(created.status).toBe(201);
    automationId = created.body.id;
    // 02:30 in Berlin (CET, UTC+1) on 15 January is 01:30 UTC.
    expect(created.body.nextFireAt).toBe('2027-01-15T01:30:00.000Z');
    await stop(setup);
  }, 120_000);
  afterAll(async () => {
    for (const gateway of running) await gateway.stop();
  });

  it('a schedule set for 02:30 in the tenant\'s time zone fires once, at 01:30 UTC, with two gateway processes on one database', async () => {
    // Both clocks start 20 s before the firing (a process boots in a few seconds, more on a busy machine):
    // both are up and ticking (every 100 ms) before it comes, and nothing has fired yet.
    const [a, b] = await Promise.all([start('2027-01-15T01:29:40Z'), start('2027-01-15T01:29:40Z')]);
    expect(await runs(a)).toEqual([]);
    const [run] = await settled(a, 1, 40_000);
    expect(run).toMatchObject({ late: false, scheduledFor: '2027-01-15T01:30:00.000Z', trigger: { kind: 'schedule', cron: '30 2 * * *', timeZone: 'Europe/Berlin' } });
    // Fired when the automations' clock (not the test's) had reached 01:30 UTC, by the tick that came next.
    const firedAt = Date.parse(run!.trigger.at as string);
    expect(firedAt).toBeGreaterThanOrEqual(Date.parse('2027-01-15T01:30:00Z'));
    expect(firedAt).toBeLessThan(Date.parse('2027-01-15T01:30:05Z'));
    // Both schedulers have ticked many times since, their clocks further past 01:30: still one run and one command.
    await ticked([a, b]);
    expect(await runs(b)).toHaveLength(1);
    expect(await heaterCommands()).toBe(1);
    expect(await nextFireAt(b)).toBe('2027-01-16T01:30:00.000Z');
    expect(await total([a, b], 'gatehouse_automation_runs_total', { outcome: 'succeeded' })).toBe(1);
    await stop(a, b);
  }, 90_000);

  it('after a restart that spans its time it fires once, marked late; several missed days are one late run', async () => {
    // 04:10 in Berlin the next day: 02:30 passed while no process ran. Both come back.
    const [c, d] = await Promise.all([start('2027-01-16T03:10:00Z'), start('2027-01-16T03:10:00Z')]);
    const fired = await settled(c, 2);
    expect(fired[0]).toMatchObject({ late: true, scheduledFor: '2027-01-16T01:30:00.000Z' });
    expect(Date.parse(fired[0]!.trigger.at as string)).toBeGreaterThanOrEqual(Date.parse('2027-01-16T03:10:00Z'));
    await ticked([c, d]);
    expect(await runs(d)).toHaveLength(2);
    expect(await heaterCommands()).toBe(2);
    expect(await total([c, d], 'gatehouse_automation_scheduler_lag_seconds_count', {})).toBe(1);
    await stop(c, d);

    // Down for three nights: one run, for the first missed firing; the next is tomorrow's.
    const e = await start('2027-01-19T05:00:00Z');
    const after = await settled(e, 3);
    expect(after[0]).toMatchObject({ late: true, scheduledFor: '2027-01-17T01:30:00.000Z' });
    await ticked([e]);
    expect(await runs(e)).toHaveLength(3);
    expect(await heaterCommands()).toBe(3);
    expect(await nextFireAt(e)).toBe('2027-01-20T01:30:00.000Z');
    await stop(e);
  }, 90_000);
});
