import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';
import { metric } from '../support/metrics.js';

describe('HTTP skeleton against a real gateway', () => {
  let gateway: Gateway;
  let base: string;

  beforeAll(async () => {
    const url = await createEmptyDatabase();
    gateway = await startGateway(loadConfig({ DATABASE_URL: url, HTTP_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), silentLog);
    base = `http://127.0.0.1:${gateway.httpPort}`;
  });
  afterAll(() => gateway?.close());

  it('is alive and ready once migrated', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok', fleet: 'single' } });
  });

  it('answers an unknown route in the error format', async () => {
    const response = await fetch(`${base}/v1/nothing-here?x=1`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /v1/nothing-here.' } });
  });

  it('exposes Prometheus metrics with request counters', async () => {
    const series = { method: 'GET', route: '/healthz', status_code: '200' };
    const before = await metric(base, 'gatehouse_http_requests_total', series);
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // Counted once the response is sent (onResponse): polled, and exactly three more, whatever ran before.
    await expect.poll(() => metric(base, 'gatehouse_http_requests_total', series)).toBe(before + 3);
    expect(await metric(base, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('serves the OpenAPI document built from the route schemas: every route it names is served, with its schema', async () => {
    const spec = (await (await fetch(`${base}/docs/json`)).json()) as {
      openapi: string; servers: { url: string }[];
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>>;
    };
    expect(spec.openapi).toMatch(/^3\./);
    expect(spec.servers).toEqual([{ url: gateway.publicUrl }]);
    expect(Object.keys(spec.paths).sort()).toEqual([
      '/.well-known/jwks.json', '/healthz', '/invitations/{token}', '/metrics', '/oauth/authorize', '/oauth/token', '/readyz',
      '/v1/approvals/policy', '/v1/apps', '/v1/apps/{id}', '/v1/apps/{id}/secret',
      '/v1/automations', '/v1/automations/time-zone', '/v1/automations/{id}', '/v1/automations/{id}/runs', '/v1/auth/login', '/v1/auth/logout', '/v1/auth/refresh', '/v1/capabilities', '/v1/commands/{id}',
      '/v1/commands/{id}/approve', '/v1/commands/{id}/deny',
      '/v1/devices', '/v1/devices/batch', '/v1/devices/{name}', '/v1/devices/{name}/commands', '/v1/devices/{name}/events',
      '/v1/devices/{name}/data', '/v1/devices/{name}/secret', '/v1/devices/{name}/suspension', '/v1/devices/{name}/telemetry', '/v1/retention',
      '/v1/invitations', '/v1/invitations/{id}',
      '/v1/me', '/v1/me/password', '/v1/me/voice-pin', '/v1/members', '/v1/members/{userId}', '/v1/members/{userId}/voice-pin',
      '/v1/me/notification-preferences', '/v1/notifications', '/v1/push/credentials', '/v1/push/dead-letters', '/v1/push/dead-letters/{id}/retry', '/v1/push/rules', '/v1/push/tokens', '/v1/push/tokens/{token}',
      '/v1/scenes', '/v1/scenes/{id}', '/v1/scenes/{id}/activate', '/v1/security-events', '/v1/tenants',
      '/v1/users/{userId}/suspension', '/v1/voice/policy', '/voice/alexa', '/voice/alexa/smart-home',
    ].sort());
    for (const [url, operations] of Object.entries(spec.paths)) {
      for (const method of Object.keys(operations)) {
        expect(gateway.http.hasRoute({ method: method.toUpperCase() as 'GET', url: url.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${url}`).toBe(true);
      }
    }
    expect(spec.paths['/v1/auth/login']!.post!.requestBody!.content['application/json']!.schema.required).toEqual(['email', 'password']);
  });

  it('serves the Swagger UI at /docs, pointed at that document', async () => {
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<div id="swagger-ui">');
    const initializer = await fetch(`${base}/docs/static/swagger-initializer.js`);
    expect(initializer.status).toBe(200);
    expect(await initializer.text()).toContain("resolveUrl('./json')");
  });

  it('says readiness is lost when the database goes away', async () => {
    const { db } = gateway.core;
    const original = db.ping.bind(db);
    db.ping = async () => { throw new Error('connection refused'); };
    try {
      const response = await fetch(`${base}/readyz`);
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: unknown }).error).toEqual({ code: 'DATABASE_UNAVAILABLE', message: 'PostgreSQL is not reachable: connection refused' });
    } finally {
      db.ping = original;
    }
  });
});
