import type { MqttClient } from 'mqtt';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { connect, record, subscribe, until, type Received } from '../support/mqtt.js';
import { gatewayEnv, runCli, waitFor } from '../support/processes.js';

/** `gatehouse scene …` and `gatehouse automation …` beside a running gateway: the running gateway's devices receive what the command line activates. */
describe('gatehouse scene and automation commands', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  const clients: MqttClient[] = [];
  const inboxes: Record<string, Received[]> = {};
  const credentials: Record<string, { username: string; password: string }> = {};

  /** Connects (again) as the device and listens to its commands; outstanding ones arrive on subscribing. */
  async function attach(name: string): Promise<MqttClient> {
    const client = await connect(gw.endpoints.tcp, { username: credentials[name]!.username, password: credentials[name]!.password });
    clients.push(client);
    inboxes[name] = record(client);
    await subscribe(client, `devices/${name}/commands/+`, 1);
    return client;
  }

  async function cli(args: string[]): Promise<Record<string, unknown>> {
    const result = await runCli([...args, '--json'], env);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    return JSON.parse(result.stdout.trim()) as Record<string, unknown>;
  }

  beforeAll(async () => {
    gw = await startBrokerGateway();
    env = gatewayEnv({ DATABASE_URL: gw.gateway.databaseUrl });
    dir = await mkdtemp(path.join(os.tmpdir(), 'cli-scenes-'));
    await gw.tenant('cabin');
    for (const name of ['lamp-a', 'lamp-b', 'knob-1']) credentials[name] = await gw.device('cabin', name, name.startsWith('lamp') ? [{ name: 'power' }] : []);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await gw?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, lists and activates a scene; each command reaches its connected device at once (the command line tells the running gateway), once', async () => {
    await attach('lamp-a');
    await attach('lamp-b');
    const created = await cli(['scene', 'create', '--tenant', 'cabin', '--name', 'evening', '--command', 'lamp-a:turn_on', '--command', 'lamp-b:turn_on']);
    const listed = await cli(['scene', 'list', '--tenant', 'cabin']);
    expect(listed.scenes).toEqual([expect.objectContaining({ id: created.id, name: 'evening', commands: [{ device: 'lamp-a', command: 'turn_on' }, { device: 'lamp-b', command: 'turn_on' }] })]);
    const activated = await cli(['scene', 'activate', String(created.id), '--tenant', 'cabin']);
    const results = activated.results as { outcome: string; commandId: string }[];
    expect(results.map((r) => r.outcome)).toEqual(['issued', 'issued']);
    await until(() => inboxes['lamp-a']!.length >= 1 && inboxes['lamp-b']!.length >= 1, 10_000, 'both lamps on, without reconnecting');
    expect([inboxes['lamp-a']![0]!.topic, inboxes['lamp-b']![0]!.topic]).toEqual(results.map((r, i) => `devices/lamp-${'ab'[i]}/commands/${r.commandId}`));
    // Once each: a second activation's command is the next thing lamp-a receives.
    const again = (await cli(['scene', 'activate', String(created.id), '--tenant', 'cabin'])).results as { commandId: string }[];
    await until(() => inboxes['lamp-a']!.length >= 2, 10_000, 'lamp-a\'s second command');
    expect(inboxes['lamp-a']!.map((m) => m.topic)).toEqual([results[0]!.commandId, again[0]!.commandId].map((id) => `devices/lamp-a/commands/${id}`));
    const refused = await runCli(['scene', 'activate', '0190f0a0-0000-7000-8000-000000000000', '--tenant', 'cabin', '--json'], env);
    expect(JSON.parse(refused.stdout.trim())).toMatchObject({ error: { code: 'SCENE_NOT_FOUND' } });
  });

  it('creates an automation from a file, which the running gateway runs; its runs are listed', async () => {
    const file = path.join(dir, 'knob.json');
    await writeFile(file, JSON.stringify({ name: 'knob', trigger: { kind: 'event', device: 'knob-1', event: 'turned' }, actions: [{ kind: 'command', device: 'lamp-a', command: 'turn_off' }] }));
    const created = await cli(['automation', 'create', '--tenant', 'cabin', '--file', file]);
    expect((await cli(['automation', 'list', '--tenant', 'cabin'])).automations).toEqual([expect.objectContaining({ id: created.id, enabled: true })]);
    const knob = await attach('knob-1');
    if (!inboxes['lamp-a']) await attach('lamp-a');
    const before = inboxes['lamp-a']!.length;
    await knob.publishAsync('devices/knob-1/events/turned', '{}', { qos: 1 });
    await until(() => inboxes['lamp-a']!.length === before + 1, 10_000, 'lamp-a off');
    const runs = await waitFor(async () => {
      const page = await cli(['automation', 'runs', String(created.id), '--tenant', 'cabin']);
      const items = page.items as { status: string }[];
      return items.length === 1 && items[0]!.status === 'succeeded' ? items : undefined;
    }, 20_000, 'the run listed');
    expect(runs[0]).toMatchObject({ trigger: { kind: 'event', event: 'turned' } });
  });
});
