import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { CapabilitySpec } from '../../src/core/devices/device-registry.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect, record, subscribe, until, type Received } from '../support/mqtt.js';
import { metric } from '../support/metrics.js';
import { waitFor } from '../support/processes.js';

type Run = { id: string; status: string; trigger: Record<string, unknown>; conditions: { kind: string; passed: boolean; actual: unknown }[]; actions: { ok: boolean; result: Record<string, unknown> }[] };
const RUNS_PER_MINUTE = 3;

/**
 * The triggers other than device events and schedules, each on its own
 * tenant: a state field crossing a threshold (hysteresis), a command's
 * failure, a device offline for N minutes (the scheduler's clock moved), and
 * conditions; then the per-tenant runs-per-minute limit.
 */
describe('automation triggers', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let offsetMs = 0;
  const clients: MqttClient[] = [];
  let t = 0;

  async function tenant() {
    const slug = `trig-${++t}`;
    await gw.tenant(slug);
    const owner = await gw.user(slug, `owner@${slug}.test`, 'owner');
    const automation = async (body: Record<string, unknown>) => {
      const created = await call<{ id: string }>(gw.base, 'POST', '/v1/automations', { token: owner.token, body });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body.id;
    };
    const runs = async (id: string) => (await call<{ items: Run[] }>(gw.base, 'GET', `/v1/automations/${id}/runs`, { token: owner.token })).body.items;
    const device = async (name: string, capabilities: CapabilitySpec[] = [], answer?: 'ok' | 'error') => {
      const credential = await gw.device(slug, name, capabilities);
      const client = await connect(gw.endpoints.tcp, { username: credential.username, password: credential.password });
      clients.push(client);
      const inbox: Received[] = record(client);
      await subscribe(client, `devices/${name}/commands/+`, 1);
      if (answer) client.on('message', (topic) => void client.publishAsync(`${topic}/result`, JSON.stringify({ status: answer }), { qos: 1 }));
      return { client, inbox };
    };
    const detail = async (name: string) => (await call<{ state: Record<string, unknown> | null; online: boolean }>(gw.base, 'GET', `/v1/devices/${name}`, { token: owner.token })).body;
    return { slug, owner, automation, runs, device, detail };
  }

  beforeAll(async () => {
    gw = await startBrokerGateway({ AUTOMATION_RUNS_PER_MINUTE: String(RUNS_PER_MINUTE) }, undefined, { clock: () => new Date(Date.now() + offsetMs) });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await gw?.close();
  });

  it('a state field crossing a threshold fires once, and again only after going back past the hysteresis band', async () => {
    const home = await tenant();
    const sensor = await home.device('temp-1', [{ name: 'temperature' }]);
    await home.device('fan-1', [{ name: 'power' }], 'ok');
    const id = await home.automation({
      name: 'hot', trigger: { kind: 'threshold', device: 'temp-1', field: 'temperature', above: 30, hysteresis: 2 }, actions: [{ kind: 'command', device: 'fan-1', command: 'turn_on' }],
    });
    const publish = async (temperature: number) => {
      await sensor.client.publishAsync('devices/temp-1/state', JSON.stringify({ temperature }), { qos: 1 });
      await waitFor(async () => ((await home.detail('temp-1')).state?.temperature === temperature ? true : undefined), 10_000, `state ${temperature} stored`);
    };
    await publish(25);
    await publish(31);
    await waitFor(async () => ((await home.runs(id)).length === 1 ? true : undefined), 10_000, 'the first crossing');
    await publish(29); // inside the band: not armed again
    await publish(31);
    await publish(27.5); // past the band: armed again
    await publish(32);
    const runs = await waitFor(async () => {
      const all = await home.runs(id);
      return all.length >= 2 ? all : undefined;
    }, 10_000, 'the second crossing');
    expect(runs.map((run) => run.trigger.value)).toEqual([32, 31]);
    expect(runs[1]!.trigger).toMatchObject({ kind: 'threshold', field: 'temperature', above: 30 });
  });

  it('a command\'s failure triggers its automation, whose run records the failed command', async () => {
    const home = await tenant();
    await home.device('pump-1', [{ name: 'power' }], 'error');
    await home.device('siren-1', [{ name: 'power' }], 'ok');
    const id = await home.automation({ name: 'pump failed', trigger: { kind: 'command_failed', device: 'pump-1' }, actions: [{ kind: 'command', device: 'siren-1', command: 'turn_on' }] });
    const sent = await call<{ id: string }>(gw.base, 'POST', '/v1/devices/pump-1/commands', { token: home.owner.token, body: { name: 'turn_on' } });
    const [run] = await waitFor(async () => {
      const all = await home.runs(id);
      return all.length === 1 && all[0]!.status === 'succeeded' ? all : undefined;
    }, 10_000, 'the run after the failure');
    expect(run!.trigger).toMatchObject({ kind: 'command_failed', commandId: sent.body.id, status: 'failed' });
  });

  it('a device offline for N minutes triggers once per absence (the scheduler\'s clock moved, not waited for)', async () => {
    const home = await tenant();
    const fridge = await home.device('fridge-1', [{ name: 'temperature' }]);
    await home.device('bell-1', [{ name: 'power' }], 'ok');
    const id = await home.automation({ name: 'fridge gone', trigger: { kind: 'offline', device: 'fridge-1', minutes: 10 }, actions: [{ kind: 'command', device: 'bell-1', command: 'turn_on' }] });
    await waitFor(async () => ((await home.detail('fridge-1')).online ? true : undefined), 10_000, 'the fridge online');
    await fridge.client.endAsync(true);
    await waitFor(async () => ((await home.detail('fridge-1')).online ? undefined : true), 10_000, 'the fridge offline');
    const scheduler = gw.gateway.core.automationScheduler;
    await scheduler.tick();
    expect(await home.runs(id)).toEqual([]);
    offsetMs = 11 * 60_000;
    onTestFinished(() => void (offsetMs = 0));
    await scheduler.tick();
    const runs = await waitFor(async () => {
      const all = await home.runs(id);
      return all.length === 1 ? all : undefined;
    }, 10_000, 'the offline run');
    expect(runs[0]!.trigger).toMatchObject({ kind: 'offline', minutes: 10 });
    await scheduler.tick();
    await scheduler.tick();
    expect(await home.runs(id)).toHaveLength(1);
  });

  it('conditions are evaluated and recorded: false ones skip the actions', async () => {
    const home = await tenant();
    const door = await home.device('door-s', []);
    const meter = await home.device('meter-1', [{ name: 'temperature' }]);
    const lamp = await home.device('lamp-c', [{ name: 'power' }], 'ok');
    await meter.client.publishAsync('devices/meter-1/state', JSON.stringify({ temperature: 18 }), { qos: 1 });
    await waitFor(async () => ((await home.detail('meter-1')).state?.temperature === 18 ? true : undefined), 10_000, 'state stored');
    const id = await home.automation({
      name: 'only when warm', trigger: { kind: 'event', device: 'door-s', event: 'open' },
      conditions: [{ kind: 'state', device: 'meter-1', field: 'temperature', op: 'gt', value: 20 }], actions: [{ kind: 'command', device: 'lamp-c', command: 'turn_on' }],
    });
    await door.client.publishAsync('devices/door-s/events/open', '{}', { qos: 1 });
    const [run] = await waitFor(async () => {
      const all = await home.runs(id);
      return all.length === 1 && all[0]!.status !== 'queued' && all[0]!.status !== 'running' ? all : undefined;
    }, 10_000, 'the run evaluated');
    expect(run!.status).toBe('skipped');
    expect(run!.conditions).toEqual([expect.objectContaining({ kind: 'state', actual: 18, passed: false })]);
    expect(run!.actions).toEqual([]);
    // The lamp got nothing: a command from the API is the first it sees.
    const marker = await call<{ id: string }>(gw.base, 'POST', '/v1/devices/lamp-c/commands', { token: home.owner.token, body: { name: 'turn_off' } });
    await until(() => lamp.inbox.length >= 1, 10_000, 'the marker at the lamp');
    expect(lamp.inbox.map((m) => m.topic)).toEqual([`devices/lamp-c/commands/${marker.body.id}`]);
  });

  it('a run whose runner died mid-way is taken over when its lease ran out, and resumes after the actions already recorded', async () => {
    const home = await tenant();
    await home.device('trip-1', []);
    const first = await home.device('step-1', [{ name: 'power' }], 'ok');
    const second = await home.device('step-2', [{ name: 'power' }], 'ok');
    const id = await home.automation({
      name: 'two steps', trigger: { kind: 'event', device: 'trip-1', event: 'go' },
      actions: [{ kind: 'command', device: 'step-1', command: 'turn_on' }, { kind: 'command', device: 'step-2', command: 'turn_on' }],
    });
    // As a runner that claimed the run, did the first action, recorded it and died leaves it: running, its lease run out.
    const [tenantRow] = await gw.gateway.core.db.platformQuery<{ id: string }>('SELECT id FROM tenants WHERE slug = $1', [home.slug]);
    const done = [{ kind: 'command', device: 'step-1', command: 'turn_on', index: 0, ok: true, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), result: { status: 'pending' } }];
    await gw.gateway.core.db.platformQuery(
      `INSERT INTO automation_runs (tenant_id, automation_id, status, trigger, actions, attempts, lease_until, started_at)
       VALUES ($1, $2, 'running', '{"kind":"event","event":"go"}', $3, 1, now() - interval '1 second', now())`, [tenantRow!.id, id, JSON.stringify(done)]);
    await gw.gateway.core.automationRunner.drain();
    const [run] = await waitFor(async () => {
      const all = await home.runs(id);
      return all.length === 1 && all[0]!.status === 'succeeded' ? all : undefined;
    }, 10_000, 'the run taken over');
    expect(run!.actions.map((action) => action.ok)).toEqual([true, true]);
    await until(() => second.inbox.length === 1, 10_000, 'step 2 sent');
    // Step 1 was not sent again: a command from the API is the first step-1 sees.
    const marker = await call<{ id: string }>(gw.base, 'POST', '/v1/devices/step-1/commands', { token: home.owner.token, body: { name: 'turn_off' } });
    await until(() => first.inbox.length >= 1, 10_000, 'the marker at step-1');
    expect(first.inbox.map((m) => m.topic)).toEqual([`devices/step-1/commands/${marker.body.id}`]);
  });

  it('beyond the tenant\'s runs per minute, runs are recorded `limited` and not executed', async () => {
    const home = await tenant();
    const button = await home.device('btn-r', []);
    const lamp = await home.device('lamp-r', [{ name: 'power' }], 'ok');
    const id = await home.automation({ name: 'press', trigger: { kind: 'event', device: 'btn-r', event: 'press' }, actions: [{ kind: 'command', device: 'lamp-r', command: 'turn_on' }] });
    const limitedBefore = await metric(gw.base, 'gatehouse_automation_runs_total', { outcome: 'limited' });
    for (let i = 0; i < RUNS_PER_MINUTE + 2; i++) await button.client.publishAsync('devices/btn-r/events/press', '{}', { qos: 1 });
    const runs = await waitFor(async () => {
      const all = await home.runs(id);
      return all.length === RUNS_PER_MINUTE + 2 && all.every((run) => !['queued', 'running'].includes(run.status)) ? all : undefined;
    }, 10_000, 'every press recorded');
    expect(runs.filter((run) => run.status === 'succeeded')).toHaveLength(RUNS_PER_MINUTE);
    expect(runs.filter((run) => run.status === 'limited')).toHaveLength(2);
    await until(() => lamp.inbox.length === RUNS_PER_MINUTE, 10_000, 'the allowed commands at the lamp');
    const marker = await call<{ id: string }>(gw.base, 'POST', '/v1/devices/lamp-r/commands', { token: home.owner.token, body: { name: 'turn_off' } });
    await until(() => lamp.inbox.some((m) => m.topic.endsWith(marker.body.id)), 10_000, 'the marker at the lamp');
    expect(lamp.inbox).toHaveLength(RUNS_PER_MINUTE + 1);
    expect(await metric(gw.base, 'gatehouse_automation_runs_total', { outcome: 'limited' })).toBe(limitedBefore + 2);
  });
});
