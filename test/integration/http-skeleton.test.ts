import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { createEmptyDatabase, silentLog } from '../support/database.js';

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
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
  });

  it('answers an unknown route in the error format', async () => {
    const response = await fetch(`${base}/v1/nothing-here?x=1`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route GET /v1/nothing-here.' } });
  });

  it('exposes Prometheus metrics with request counters', async () => {
    await fetch(`${base}/healthz`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/gatehouse_http_requests_total\{method="GET",route="\/healthz",status_code="200"\} \d+/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('serves the OpenAPI document built from the route schemas', async () => {
    const spec = (await (await fetch(`${base}/docs/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics']));
    expect((await fetch(`${base}/docs`, { redirect: 'manual' })).status).toBeLessThan(400);
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
