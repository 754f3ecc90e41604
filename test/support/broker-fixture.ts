import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createAppCredential, type TopicFilters } from '../../src/auth/app-credentials.js';
import { operatorContext } from '../../src/auth/operator.js';
import { writeDevCertificates } from '../../src/broker/dev-certificates.js';
import type { CapabilitySpec } from '../../src/core/devices/device-registry.js';
import type { Logger } from '../../src/logger.js';
import { createTenant } from '../../src/core/tenants.js';
import type { GatewayOptions } from '../../src/main.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect, type Endpoints } from './mqtt.js';

export type Credential = { username: string; password: string; id: string };

/** A real gateway with TCP, TLS (development certificates) and WebSocket listeners, and helpers to provision tenants. */
export async function startBrokerGateway(env: Record<string, string> = {}, log?: Logger, options: GatewayOptions = {}): Promise<TestGateway & {
  endpoints: Endpoints;
  tenant(slug: string): Promise<{ id: string; slug: string }>;
  device(slug: string, name: string, capabilities?: CapabilitySpec[]): Promise<Credential>;
  app(slug: string, name: string, filters?: Partial<TopicFilters>): Promise<Credential>;
  user(slug: string, email: string, role: 'owner' | 'admin' | 'member' | 'viewer'): Promise<{ id: string; token: string }>;
}> {
  const certs = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-certs-'));
  const files = await writeDevCertificates(certs);
  const t = await startTestGateway({ MQTT_PORT: '0', MQTTS_PORT: '0', MQTT_TLS_CERT: files.serverCert!, MQTT_TLS_KEY: files.serverKey!, ...env }, log, options);
  const core = t.gateway.core;
  const endpoints: Endpoints = {
    tcp: `mqtt://127.0.0.1:${t.gateway.mqttPort}`,
    tls: `mqtts://127.0.0.1:${t.gateway.mqttsPort}`,
    ws: `ws://127.0.0.1:${t.gateway.httpPort}/mqtt`,
    ca: await readFile(files.caCert!, 'utf8'),
  };
  return {
    ...t,
    async close() {
      await t.close();
      await rm(certs, { recursive: true, force: true });
    },
    endpoints,
    async tenant(slug) {
      return createTenant(core.db, { slug });
    },
    async device(slug, name, capabilities = []) {
      const device = await core.devices.register(await operatorContext(core.db, slug), { name, capabilities });
      return { username: device.username, password: device.password, id: device.id };
    },
    async app(slug, name, filters = {}) {
      const app = await createAppCredential(core.db, core.policy, await operatorContext(core.db, slug), { name, ...filters });
      return { username: app.username, password: app.password, id: app.id };
    },
    async user(slug, email, role) {
      const password = 'correct horse battery';
      const member = await core.auth.members.add(await operatorContext(core.db, slug), { email, password, role });
      const response = await fetch(`${t.base}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password, tenant: slug }) });
      const { access_token } = (await response.json()) as { access_token: string };
      return { id: member.id, token: access_token };
    },
  };
}

export type BrokerGateway = Awaited<ReturnType<typeof startBrokerGateway>>;

/**
 * One gateway for a test file, with tenants `alpha` and `beta` that each have
 * a device `sensor-1` and an app named `app` (credentials `alpha.sensor`,
 * `beta.<app>`, …), and `client(who)`: an MQTT connection of that credential,
 * closed after each test. `more` provisions what else the file needs.
 */
export function twoTenantGateway(app: string, more: (gw: BrokerGateway, creds: Record<string, Credential>) => Promise<void> = async () => undefined) {
  const fixture = { gw: undefined as unknown as BrokerGateway, creds: {} as Record<string, Credential> };
  const open: MqttClient[] = [];
  beforeAll(async () => {
    fixture.gw = await startBrokerGateway();
    for (const tenant of ['alpha', 'beta']) {
      await fixture.gw.tenant(tenant);
      fixture.creds[`${tenant}.sensor`] = await fixture.gw.device(tenant, 'sensor-1');
      fixture.creds[`${tenant}.${app}`] = await fixture.gw.app(tenant, app);
    }
    await more(fixture.gw, fixture.creds);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });
  afterAll(() => fixture.gw?.close());
  async function client(who: string, options: Parameters<typeof connect>[1] = {}): Promise<MqttClient> {
    const c = await connect(fixture.gw.endpoints.tcp, { username: fixture.creds[who]!.username, password: fixture.creds[who]!.password, ...options });
    open.push(c);
    return c;
  }
  return { fixture, client };
}
