import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import { GOOGLE_PROJECT, linkGoogle } from '../fakes/google/account-link.js';
import { setUpHomeGraph, type FakeHomeGraph, type HomeGraphSetup } from '../fakes/google/fake-home-graph.js';
import { assertGoogleShape, googleRequests } from '../fakes/google/smart-home.js';
import { answeringDevice, type AnsweringDevice } from '../support/answering-device.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { waitFor } from '../support/processes.js';

const PASSWORD = 'correct horse battery';

/**
 * Home Graph through the real gateway: the tenant's service account (sealed
 * with the keyring) gets tokens from the fake token endpoint, and state,
 * presence and device-list changes reach the fake Home Graph, checked
 * against Google's documented request bodies.
 */
describe('Google Home Graph: report state and request sync', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let setup: HomeGraphSetup;
  let graph: FakeHomeGraph;
  let agentUserId: string;
  let token: string;
  let barnToken: string;
  const devices: Record<string, AnsweringDevice> = {};

  const execute = async (id: string, on: boolean) => {
    const response = await call<{ payload: { commands: { status: string }[] } }>(gw.base, 'POST', '/voice/google', {
      token, body: googleRequests.execute([{ ids: [id], execution: [{ command: 'action.devices.commands.OnOff', params: { on } }] }]),
    });
    assertGoogleShape('execute', response.body);
    return response.body.payload.commands[0]!;
  };
  /** The first report to Home Graph, from now on, whose state of `device` matches. */
  const reported = (device: string, expected: Record<string, unknown>, from = graph.reports.length) => waitFor(async () => graph.reports.slice(from)
    .find((report) => report.states[device] && Object.entries(expected).every(([field, value]) => JSON.stringify(report.states[device]![field]) === JSON.stringify(value))), 10_000, `Home Graph to hear ${device} ${JSON.stringify(expected)}`);

  beforeAll(async () => {
    setup = await setUpHomeGraph();
    graph = setup.graph;
    gw = await startBrokerGateway({ ...setup.env, GOOGLE_EXECUTE_WAIT_MS: '1000' });
    const core = gw.gateway.core;
    const home = await gw.tenant('home');
    await gw.tenant('barn');
    await core.voiceCredentials.set(home.id, setup.serviceAccount);
    for (const [slug, email] of [['home', 'owner@home.test'], ['barn', 'farmer@barn.test']] as const) {
      await core.auth.members.add(await operatorContext(core.db, slug), { email, password: PASSWORD, role: 'owner' });
    }
    const g = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', GOOGLE_PROJECT) });
    const client = { id: g.clientId, secret: g.clientSecret };
    token = (await linkGoogle(gw.base, client, 'owner@home.test', PASSWORD)).access;
    barnToken = (await linkGoogle(gw.base, client, 'farmer@barn.test', PASSWORD)).access;
    for (const [name, state, hold] of [['lamp', { on: false, brightness: 40 }, false], ['slowpoke', { on: false }, true]] as const) {
      const made = await core.devices.register(await operatorContext(core.db, 'home'), { name, type: 'light', capabilities: [{ name: 'power' }, { name: 'brightness' }] });
      devices[name] = await answeringDevice(gw.endpoints.tcp, made, name, { ...state }, { hold });
    }
    await gw.device('barn', 'barn-light', [{ name: 'power' }]);
    const sync = await call<{ payload: { agentUserId: string } }>(gw.base, 'POST', '/voice/google', { token, body: googleRequests.sync() });
    agentUserId = sync.body.payload.agentUserId;
  });
  afterAll(async () => {
    await Promise.all(Object.values(devices).map((device) => device.client.endAsync(true).catch(() => undefined)));
    await gw?.close();
    await setup?.close();
  });

  it('SYNC says willReportState where the tenant has a service account, not where it has none', async () => {
    const home = await call<{ payload: { devices: { id: string; willReportState: boolean }[] } }>(gw.base, 'POST', '/voice/google', { token, body: googleRequests.sync() });
    assertGoogleShape('sync', home.body);
    expect(home.body.payload.devices.map((device) => device.willReportState)).toEqual([true, true]);
    const barn = await call<{ payload: { devices: { willReportState: boolean }[] } }>(gw.base, 'POST', '/voice/google', { token: barnToken, body: googleRequests.sync() });
    expect(barn.body.payload.devices.map((device) => device.willReportState)).toEqual([false]);
  });

  it('a state change from the real MQTT device reaches Home Graph as the traits\' states, for the linked agentUserId, coalesced', async () => {
    const from = graph.reports.length;
    for (let brightness = 1; brightness <= 20; brightness++) await devices.lamp!.report({ brightness });
    const report = await reported('lamp', { brightness: 20 }, from);
    expect(report.agentUserId).toBe(agentUserId);
    expect(report.states.lamp).toEqual({ online: true, on: false, brightness: 20 });
    // Twenty messages, fewer calls: changes gather per device between two sends.
    expect(graph.reports.slice(from).filter((r) => r.states.lamp).length).toBeLessThan(20);
    // The same states QUERY answers.
    const query = await call<{ payload: { devices: Record<string, unknown> } }>(gw.base, 'POST', '/voice/google', { token, body: googleRequests.query(['lamp']) });
    expect(query.body.payload.devices.lamp).toEqual({ status: 'SUCCESS', ...report.states.lamp });
    expect(graph.rejected).toEqual([]);
  });

  it('a device too slow for EXECUTE answers PENDING, and its later result reaches Home Graph', async () => {
    expect(await execute('slowpoke', true)).toEqual({ ids: ['slowpoke'], status: 'PENDING' });
    const from = graph.reports.length;
    await devices.slowpoke!.release();
    expect((await reported('slowpoke', { on: true }, from)).states.slowpoke).toEqual({ online: true, on: true });
  });

  it('a device registered asks Google to sync the linked account; another tenant\'s devices are never reported', async () => {
    const from = graph.syncs.length;
    await gw.gateway.core.devices.register(await operatorContext(gw.gateway.core.db, 'home'), { name: 'porch', type: 'light', capabilities: [{ name: 'power' }] });
    await waitFor(async () => (graph.syncs.slice(from).includes(agentUserId) ? true : undefined), 10_000, 'requestSync');
    expect(graph.reports.every((report) => report.agentUserId === agentUserId && !('barn-light' in report.states))).toBe(true);
  });

  it('Home Graph down: the device path goes on (state stored, commands answered), and the report arrives once it is back', async () => {
    graph.down = true;
    const failures = graph.failures;
    const from = graph.reports.length;
    try {
      await devices.lamp!.report({ brightness: 77 });
      await waitFor(async () => (graph.failures > failures ? true : undefined), 10_000, 'a report refused while Home Graph is down');
      expect(await execute('lamp', true)).toMatchObject({ status: 'SUCCESS', states: { on: true, brightness: 77 } });
      // Stored while Home Graph refuses: QUERY reads it.
      await waitFor(async () => {
        const query = await call<{ payload: { devices: Record<string, Record<string, unknown>> } }>(gw.base, 'POST', '/voice/google', { token, body: googleRequests.query(['lamp']) });
        return query.body.payload.devices.lamp!.on === true ? true : undefined;
      }, 10_000, 'the lamp\'s new state stored');
    } finally {
      graph.down = false;
    }
    expect((await reported('lamp', { on: true, brightness: 77 }, from)).states.lamp).toEqual({ online: true, on: true, brightness: 77 });
  });
});
