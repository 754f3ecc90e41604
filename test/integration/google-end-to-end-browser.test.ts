import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext } from '../../src/auth/operator.js';
import { platformRedirectUris } from '../../src/auth/oauth/clients.js';
import { GOOGLE_PROJECT, GOOGLE_REDIRECT } from '../fakes/google/account-link.js';
import { setUpHomeGraph, type FakeHomeGraph, type HomeGraphSetup } from '../fakes/google/fake-home-graph.js';
import { assertGoogleShape, googleRequests, type Intent } from '../fakes/google/smart-home.js';
import { answeringDevice, type AnsweringDevice } from '../support/answering-device.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { launchChromium } from '../support/chromium.js';
import { call } from '../support/gateway.js';
import { authorizeUrl, pkcePair, tokenRequest } from '../support/oauth.js';
import { waitFor } from '../support/processes.js';

const PASSWORD = 'correct horse battery';

/**
 * The whole path as a person and Google take it: linking in a real browser,
 * SYNC, EXECUTE reaching a real MQTT device that answers, and the new state
 * reported to Home Graph.
 */
describe('Google Home end to end: Chromium linking → SYNC → EXECUTE on a real device → Home Graph', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let setup: HomeGraphSetup;
  let graph: FakeHomeGraph;
  let browser: Browser;
  let client: { id: string; secret: string };
  let lamp: AnsweringDevice;

  beforeAll(async () => {
    setup = await setUpHomeGraph();
    graph = setup.graph;
    gw = await startBrokerGateway(setup.env);
    const core = gw.gateway.core;
    await gw.tenant('home');
    // The platform-wide service account: one Actions project serves every tenant.
    await core.voiceCredentials.set(null, setup.serviceAccount);
    const operator = await operatorContext(core.db, 'home');
    await core.auth.members.add(operator, { email: 'owner@home.test', password: PASSWORD, role: 'owner' });
    const made = await core.devices.register(operator, { name: 'lamp', type: 'light', displayName: 'Desk lamp', capabilities: [{ name: 'power' }, { name: 'brightness' }] });
    lamp = await answeringDevice(gw.endpoints.tcp, made, 'lamp', { on: false, brightness: 30 });
    const created = await core.auth.oauth.clients.create({ platform: 'google', redirectUris: platformRedirectUris('google', GOOGLE_PROJECT) });
    client = { id: created.clientId, secret: created.clientSecret };
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await lamp?.client.endAsync(true).catch(() => undefined);
    await gw?.close();
    await setup?.close();
  });

  async function fulfill<T>(intent: Intent, token: string, body: object): Promise<T> {
    const response = await call<T>(gw.base, 'POST', '/voice/google', { token, body });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    assertGoogleShape(intent, response.body);
    return response.body;
  }

  it('links through the consent page, lists the lamp, turns it on for real, and Home Graph hears it', async () => {
    const page = await browser.newPage();
    let redirected!: (url: URL) => void;
    const reached = new Promise<URL>((resolve) => (redirected = resolve));
    // Google's redirect endpoint is out of reach here: catch the navigation to it.
    await page.route('https://oauth-redirect.googleusercontent.com/**', async (route) => {
      redirected(new URL(route.request().url()));
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>Linked (Google stand-in)</p>' });
    });
    const { verifier, challenge } = pkcePair();
    await page.goto(authorizeUrl(gw.base, {
      response_type: 'code', client_id: client.id, redirect_uri: GOOGLE_REDIRECT, state: 'google-state-1', code_challenge: challenge, code_challenge_method: 'S256',
    }));
    await page.fill('#email', 'owner@home.test');
    await page.fill('#password', PASSWORD);
    await page.click('button[value="allow"]');
    const url = await reached;
    expect(url.searchParams.get('state')).toBe('google-state-1');
    await page.close();
    const tokens = await tokenRequest(gw.base, client, { grant_type: 'authorization_code', code: url.searchParams.get('code')!, redirect_uri: GOOGLE_REDIRECT, code_verifier: verifier });
    expect(tokens.status).toBe(200);
    const token = tokens.body.access_token as string;

    const sync = await fulfill<{ payload: { agentUserId: string; devices: { id: string; traits: string[]; willReportState: boolean }[] } }>('sync', token, googleRequests.sync());
    expect(sync.payload.devices).toEqual([expect.objectContaining({
      id: 'lamp', traits: ['action.devices.traits.OnOff', 'action.devices.traits.Brightness'], willReportState: true,
    })]);

    const from = graph.reports.length;
    const executed = await fulfill<{ payload: { commands: unknown[] } }>('execute', token,
      googleRequests.execute([{ ids: ['lamp'], execution: [{ command: 'action.devices.commands.OnOff', params: { on: true } }] }]));
    expect(executed.payload.commands).toEqual([{ ids: ['lamp'], status: 'SUCCESS', states: { online: true, on: true, brightness: 30 } }]);
    expect(lamp.received).toEqual([expect.objectContaining({ name: 'turn_on' })]);

    const report = await waitFor(async () => graph.reports.slice(from).find((r) => r.states.lamp?.on === true), 10_000, 'Home Graph to hear the lamp on');
    expect(report).toMatchObject({ agentUserId: sync.payload.agentUserId, states: { lamp: { online: true, on: true, brightness: 30 } } });
    expect(graph.rejected).toEqual([]);
  });
});
