import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../../deploy/alexa-lambda/index.mjs';
import { operatorContext } from '../../src/auth/operator.js';
import type { Core } from '../../src/core/create-core.js';
import { startFakeAmazon, type GatewayEvent } from '../support/alexa-fakes/fake-amazon.js';
import { alexaMessageErrors } from '../support/alexa-schema.js';
import { acceptGrant, deviceOnline, directive, linkAlexa, type AlexaEvent } from '../support/alexa-smart-home.js';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { connect } from '../support/mqtt.js';
import { waitFor } from '../support/processes.js';

const SKILL = 'amzn1.ask.skill.gatehouse-events';
const SECRET = 'e'.repeat(20) + '0123456789abcdef';
const LWA = { clientId: 'amzn1.application-oa2-client.test', clientSecret: 'amzn1.oa2-cs.v1.test-secret' };
const PASSWORD = 'correct horse battery';

type Change = { cause: { type: string }; properties: { namespace: string; name: string; value: unknown }[] };

describe('Alexa events: AcceptGrant with Login with Amazon, DeferredResponse, ChangeReports to the event gateway', () => {
  let amazon: Awaited<ReturnType<typeof startFakeAmazon>>;
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let core: Core;
  let lambda: (event: unknown) => Promise<Record<string, unknown>>;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const credentials: Record<string, { username: string; password: string }> = {};
  const open: MqttClient[] = [];

  async function send(message: unknown): Promise<AlexaEvent> {
    const answer = (await lambda(message)) as AlexaEvent;
    expect(alexaMessageErrors(answer), JSON.stringify(answer)).toBeUndefined();
    return answer;
  }
  /** Every event the gateway fake received so far, each checked against Amazon's schema. */
  function received(): GatewayEvent[] {
    for (const event of amazon.events) expect(alexaMessageErrors(event.body), JSON.stringify(event.body)).toBeUndefined();
    return amazon.events;
  }
  const accepted = () => received().filter((e) => e.status === 202);
  const changeReportsFor = (grantId: string, endpointId: string) => accepted().filter((e) => e.grantId === grantId && e.body.event && (e.body.event as AlexaEvent['event']).header.name === 'ChangeReport'
    && (e.body.event as AlexaEvent['event']).endpoint?.endpointId === endpointId);
  const changeOf = (e: GatewayEvent) => ((e.body.event as AlexaEvent['event']).payload.change as Change);
  /** State changes of `name` published as its device, retained, as a person at the device would cause them. */
  async function publishState(name: string, ...states: Record<string, unknown>[]) {
    const client = await connect(gw.endpoints.tcp, credentials[name]!);
    for (const state of states) await client.publishAsync(`devices/${name}/state`, JSON.stringify(state), { qos: 1, retain: true });
    await client.endAsync();
  }
  /** The marker: a change of `name` whose ChangeReport to `grantId` arrives after everything sent before it. */
  async function marker(grantId: string, name: string, value: number) {
    await publishState(name, { brightness: value });
    await waitFor(async () => changeReportsFor(grantId, ids[name]!).find((e) => changeOf(e).properties.some((p) => p.value === value)), 15_000, `marker ${value}`);
  }
  const grantRow = async (email: string) => (await core.db.platformQuery<{ sealed: Buffer; key_id: string; skill_id: string }>(
    `SELECT g.sealed, g.key_id, g.skill_id FROM alexa_grants g JOIN users u ON u.id = g.user_id WHERE u.email = $1`, [email]))[0];

  beforeAll(async () => {
    amazon = await startFakeAmazon(LWA);
    gw = await startBrokerGateway({
      ALEXA_SMART_HOME_SECRETS: `${SKILL}=${SECRET}`, ALEXA_LWA_CLIENTS: `${SKILL}=${LWA.clientId}:${LWA.clientSecret}`,
      ALEXA_LWA_TOKEN_URL: amazon.tokenUrl, ALEXA_EVENT_GATEWAY_URL: amazon.gatewayUrl,
      ALEXA_COMMAND_WAIT_MS: '500', ALEXA_DEFERRAL_SECONDS: '20', ALEXA_REPORT_INTERVAL_MS: '1500',
    });
    core = gw.gateway.core;
    lambda = createHandler({ GATEHOUSE_URL: gw.base, GATEHOUSE_SKILL_ID: SKILL, GATEHOUSE_SECRET: SECRET });
    for (const slug of ['home', 'cabin']) {
      await gw.tenant(slug);
      await core.auth.members.add(await operatorContext(core.db, slug), { email: `owner@${slug}.test`, password: PASSWORD, role: 'owner' });
    }
    await core.auth.members.add(await operatorContext(core.db, 'home'), { email: 'guest@home.test', password: PASSWORD, role: 'member' });
    for (const [slug, name] of [['home', 'lamp'], ['home', 'slow-lamp'], ['home', 'marker'], ['cabin', 'cabin-lamp'], ['cabin', 'cabin-marker']] as const) {
      const device = await core.devices.register(await operatorContext(core.db, slug), { name, type: 'light', capabilities: [{ name: 'power' }, { name: 'brightness' }] });
      ids[name] = device.id;
      credentials[name] = device;
    }
    // Slower than ALEXA_COMMAND_WAIT_MS (500 ms): Alexa is answered before the device is done.
    open.push(await deviceOnline(gw.endpoints.tcp, 'slow-lamp', credentials['slow-lamp']!, (c) => ({ on: c.name === 'turn_on' }), 1_500));
    for (const email of ['owner@home.test', 'owner@cabin.test', 'guest@home.test']) tokens[email] = await linkAlexa(gw.base, core, email, PASSWORD);
    for (const email of ['owner@home.test', 'owner@cabin.test']) {
      const answer = await send(acceptGrant(tokens[email]!, amazon.issueCode(email)));
      expect(answer.event.header).toMatchObject({ namespace: 'Alexa.Authorization', name: 'AcceptGrant.Response' });
    }
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.endAsync(true).catch(() => undefined)));
    await gw?.close();
    await amazon?.close();
  });

  it('AcceptGrant exchanged the code with LWA (client authenticated) and keeps the tokens sealed, never in plaintext', async () => {
    expect(amazon.tokenRequests.filter((r) => r.grantType === 'authorization_code').map((r) => r.grantId).sort()).toEqual(['owner@cabin.test', 'owner@home.test']);
    const row = (await grantRow('owner@home.test'))!;
    expect(row.skill_id).toBe(SKILL);
    const { accessToken, refreshToken } = { accessToken: amazon.grant('owner@home.test')!.accessToken, refreshToken: amazon.grant('owner@home.test')!.refreshToken };
    for (const secret of [accessToken, refreshToken]) expect(row.sealed.includes(Buffer.from(secret))).toBe(false);
    const dump = JSON.stringify(await core.db.platformQuery('SELECT * FROM alexa_grants', []));
    expect(dump).not.toContain(accessToken);
    expect(dump).not.toContain(refreshToken.slice(5));
    const audited = await core.db.platformQuery<{ n: number }>(`SELECT count(*)::int AS n FROM security_events WHERE event_type = 'VOICE_GRANT_ACCEPTED' AND channel = 'alexa'`, []);
    expect(audited[0]!.n).toBe(2);
  });

  it('a code LWA refuses answers Alexa.Authorization ACCEPT_GRANT_FAILED and keeps nothing', async () => {
    const answer = await send(acceptGrant(tokens['guest@home.test']!, 'ANcode|never-issued'));
    expect(answer.event).toMatchObject({ header: { namespace: 'Alexa.Authorization', name: 'ErrorResponse' }, payload: { type: 'ACCEPT_GRANT_FAILED' } });
    expect(await grantRow('guest@home.test')).toBeUndefined();
  });

  it('Discovery says proactivelyReported only to a person with a grant: only they get ChangeReports', async () => {
    const reported = async (email: string) => {
      const endpoints = (await send(directive('Alexa.Discovery', 'Discover', tokens[email]!, undefined))).event.payload.endpoints as { capabilities: { properties?: { proactivelyReported: boolean } }[] }[];
      return new Set(endpoints.flatMap((e) => e.capabilities.flatMap((c) => (c.properties ? [c.properties.proactivelyReported] : []))));
    };
    expect(await reported('owner@home.test')).toEqual(new Set([true]));
    expect(await reported('guest@home.test')).toEqual(new Set([false]));
  });

  it('a device slower than Alexa\'s budget: DeferredResponse, then the Response with the same correlationToken reaches the event gateway', async () => {
    const turnOn = directive('Alexa.PowerController', 'TurnOn', tokens['owner@home.test']!, ids['slow-lamp']);
    const answer = await send(turnOn);
    expect(answer.event.header).toMatchObject({ namespace: 'Alexa', name: 'DeferredResponse', correlationToken: turnOn.directive.header.correlationToken });
    expect(answer.event.payload).toEqual({ estimatedDeferralInSeconds: 20 });
    const late = await waitFor(async () => accepted().find((e) => (e.body.event as AlexaEvent['event']).header.correlationToken === turnOn.directive.header.correlationToken), 15_000, 'the asynchronous Response');
    const body = late.body as AlexaEvent;
    expect(body.event.header).toMatchObject({ namespace: 'Alexa', name: 'Response' });
    expect(body.event.endpoint).toEqual({ endpointId: ids['slow-lamp'], scope: { type: 'BearerToken', token: amazon.grant('owner@home.test')!.accessToken } });
    expect(body.context!.properties).toEqual(expect.arrayContaining([expect.objectContaining({ namespace: 'Alexa.PowerController', name: 'powerState', value: 'ON' })]));
    // The state the device then reported goes out as a ChangeReport caused through Gatehouse, not at the device.
    const change = await waitFor(async () => changeReportsFor('owner@home.test', ids['slow-lamp']!).find((e) => changeOf(e).properties.some((p) => p.name === 'powerState')), 15_000, 'the ChangeReport of the command');
    expect(changeOf(change).cause.type).toBe('APP_INTERACTION');
    const outcomes = await core.db.platformQuery<{ outcome: string }>(`SELECT details->>'outcome' AS outcome FROM security_events WHERE event_type = 'VOICE_INTENT' AND details->>'requestId' = $1 ORDER BY created_at`, [turnOn.directive.header.messageId]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['DeferredResponse', 'async Response (sent)']);
  });

  it('without a grant the slow device answers as before: ENDPOINT_UNREACHABLE, and the command expires with the wait', async () => {
    const turnOff = directive('Alexa.PowerController', 'TurnOff', tokens['guest@home.test']!, ids['slow-lamp']);
    expect((await send(turnOff)).event.payload.type).toBe('ENDPOINT_UNREACHABLE');
    const [command] = await core.db.platformQuery<{ ttl: number }>(
      `SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM commands WHERE idempotency_key LIKE $1`, [`%alexa:${turnOff.directive.header.messageId}`]);
    expect(command!.ttl).toBeLessThanOrEqual(2);
  });

  it('rapid state changes are one ChangeReport per device per interval, PHYSICAL_INTERACTION, with the latest value', async () => {
    await marker('owner@home.test', 'marker', 1);
    const before = changeReportsFor('owner@home.test', ids.lamp!).length;
    await publishState('lamp', ...Array.from({ length: 10 }, (_, i) => ({ on: true, brightness: (i + 1) * 10 })));
    await waitFor(async () => changeReportsFor('owner@home.test', ids.lamp!).find((e) => changeOf(e).properties.some((p) => p.name === 'brightness' && p.value === 100)), 15_000, 'brightness 100');
    await marker('owner@home.test', 'marker', 2);
    const reports = changeReportsFor('owner@home.test', ids.lamp!).slice(before);
    // Ten messages within well under one interval (1.5 s): one report, or two if the burst straddled an interval's end.
    expect(reports.length).toBeGreaterThanOrEqual(1);
    expect(reports.length).toBeLessThanOrEqual(2);
    expect(changeOf(reports.at(-1)!).properties).toEqual(expect.arrayContaining([
      expect.objectContaining({ namespace: 'Alexa.BrightnessController', name: 'brightness', value: 100, uncertaintyInMilliseconds: 1500 }),
    ]));
    for (const report of reports) expect(changeOf(report).cause.type).toBe('PHYSICAL_INTERACTION');
  });

  it('a device going offline is a ChangeReport of EndpointHealth.connectivity UNREACHABLE', async () => {
    const online = async (value: boolean) => ((await core.db.platformQuery<{ online: boolean }>('SELECT online FROM devices WHERE id = $1', [ids.lamp]))[0]!.online === value || undefined);
    const client = await connect(gw.endpoints.tcp, credentials.lamp!);
    // Presence is written once a second: a connection that comes and goes within one is no change at all.
    await waitFor(() => online(true), 10_000, 'the lamp online');
    await client.endAsync();
    await waitFor(() => online(false), 10_000, 'the lamp offline');
    const offline = await waitFor(async () => changeReportsFor('owner@home.test', ids.lamp!).find((e) =>
      changeOf(e).properties.some((p) => p.namespace === 'Alexa.EndpointHealth' && (p.value as { value: string }).value === 'UNREACHABLE')), 15_000, 'connectivity UNREACHABLE');
    expect(changeOf(offline).properties.map((p) => p.name)).toContain('connectivity');
  });

  it('a grant of one tenant never receives another tenant\'s changes', async () => {
    await publishState('cabin-lamp', { on: true, brightness: 33 });
    await marker('owner@cabin.test', 'cabin-marker', 7);
    await marker('owner@home.test', 'marker', 3);
    const endpointsOf = (grantId: string) => new Set(accepted().filter((e) => e.grantId === grantId).map((e) => (e.body.event as AlexaEvent['event']).endpoint?.endpointId));
    expect([...endpointsOf('owner@cabin.test')].sort()).toEqual([ids['cabin-lamp'], ids['cabin-marker']].sort());
    expect(endpointsOf('owner@home.test').has(ids['cabin-lamp']!)).toBe(false);
    expect(endpointsOf('owner@home.test').has(ids['cabin-marker']!)).toBe(false);
  });

  it('an access token the gateway calls invalid is refreshed with LWA and the event sent again; one about to expire is refreshed first', async () => {
    const refreshes = () => amazon.tokenRequests.filter((r) => r.grantType === 'refresh_token' && r.grantId === 'owner@home.test').length;
    const refreshed = refreshes();
    const old = amazon.grant('owner@home.test')!.accessToken;
    amazon.expireAccess('owner@home.test');
    await marker('owner@home.test', 'marker', 4);
    expect(refreshes()).toBe(refreshed + 1);
    expect(received().some((e) => e.token === old && e.code === 'INVALID_ACCESS_TOKEN_EXCEPTION')).toBe(true);
    // Tokens that live 30 s are inside the refresh margin: the next send refreshes before it posts, with no 401.
    amazon.setExpiresIn(30);
    amazon.expireAccess('owner@home.test');
    await marker('owner@home.test', 'marker', 5);
    const [rejected, refreshedSoFar] = [received().filter((e) => e.status === 401).length, refreshes()];
    await marker('owner@home.test', 'marker', 6);
    expect(received().filter((e) => e.status === 401).length).toBe(rejected);
    expect(refreshes()).toBeGreaterThan(refreshedSoFar);
    amazon.setExpiresIn(3600);
  });

  it('SKILL_DISABLED_EXCEPTION drops the grant (audited); nothing is sent for it afterwards', async () => {
    amazon.disable('owner@cabin.test');
    await publishState('cabin-marker', { brightness: 8 });
    await waitFor(async () => ((await grantRow('owner@cabin.test')) ? undefined : true), 15_000, 'the grant dropped');
    const dropped = await core.db.platformQuery<{ reason: string }>(`SELECT details->>'reason' AS reason FROM security_events WHERE event_type = 'VOICE_GRANT_DROPPED'`, []);
    expect(dropped.map((d) => d.reason)).toEqual(['SKILL_DISABLED_EXCEPTION']);
    const attempts = received().filter((e) => e.grantId === 'owner@cabin.test').length;
    await publishState('cabin-lamp', { brightness: 9 });
    // The home grant's marker goes out after the cabin change was due: the cabin grant got nothing.
    await publishState('cabin-marker', { brightness: 10 });
    await marker('owner@home.test', 'marker', 8);
    await marker('owner@home.test', 'marker', 9);
    expect(received().filter((e) => e.grantId === 'owner@cabin.test')).toHaveLength(attempts);
  });
});
