import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryRetention, type RetentionOptions } from '../../src/core/telemetry/telemetry-retention.js';
import { createPool, Database } from '../../src/db/database.js';
import { startBrokerGateway, type Credential } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { connect } from '../support/mqtt.js';

const DAY = 86_400_000;
const OPTIONS: RetentionOptions = { unit: 'day', ahead: 3, maxDays: 365, batchRows: 2, maxBatches: 100 };
type ErrorBody = { error: { code: string } };

describe('telemetry and device events age out: partitions ahead, retention per tenant, purge', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let db: Database;
  let shortKeeper: Credential;
  let longKeeper: Credential;
  let admin: { token: string };
  let member: { token: string };

  const partitions = async () => (await db.platformQuery<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent IN ('telemetry'::regclass, 'device_events'::regclass) ORDER BY 1`, [])).map((row) => row.name);
  const day = (offset: number) => new Date(Date.now() + offset * DAY);
  const ymd = (at: Date) => at.toISOString().slice(0, 10).replaceAll('-', '');
  const write = async (device: Credential, tenantId: string, daysAgo: number) => {
    await db.platformQuery("INSERT INTO telemetry (tenant_id, device_id, payload, received_at) VALUES ($1, $2, '{}', $3)", [tenantId, device.id, day(-daysAgo)]);
    await db.platformQuery("INSERT INTO device_events (tenant_id, device_id, payload, received_at) VALUES ($1, $2, '{}', $3)", [tenantId, device.id, day(-daysAgo)]);
  };
  const ages = async (device: Credential, table: 'telemetry' | 'device_events') => (await db.platformQuery<{ age: number }>(
    `SELECT round(extract(epoch FROM now() - received_at) / 86400)::int AS age FROM ${table} WHERE device_id = $1 ORDER BY 1`, [device.id])).map((row) => row.age);

  beforeAll(async () => {
    gw = await startBrokerGateway();
    db = gw.gateway.core.db;
    await gw.tenant('brief');
    await gw.tenant('archive');
    shortKeeper = await gw.device('brief', 'meter');
    longKeeper = await gw.device('archive', 'meter');
    admin = await gw.user('brief', 'admin@brief.test', 'admin');
    member = await gw.user('brief', 'member@brief.test', 'member');
  }, 60_000);
  afterAll(() => gw?.close());

  it('after start, the current period and the ones ahead are partitioned for both tables, and the DEFAULT partitions are empty', async () => {
    const names = await partitions();
    for (const table of ['telemetry', 'device_events']) {
      for (let ahead = 0; ahead <= 3; ahead++) expect(names).toContain(`${table}_p${ymd(day(ahead))}_${ymd(day(ahead + 1))}`);
    }
    expect(await db.platformQuery('SELECT 1 FROM telemetry_default UNION ALL SELECT 1 FROM device_events_default', [])).toEqual([]);
  });

  it('a tenant\'s admins set its retention within the ceiling; members read it; shortening needs data.purge', async () => {
    const put = (token: string, body: unknown) => call<{ telemetryRetentionDays: number; maxDays: number } & ErrorBody>(gw.base, 'PUT', '/v1/retention', { token, body });
    expect((await call(gw.base, 'GET', '/v1/retention', { token: member.token })).body).toEqual({ telemetryRetentionDays: 90, maxDays: 365 });
    expect((await put(member.token, { telemetryRetentionDays: 10 })).body.error.code).toBe('POLICY_DENIED');
    expect((await put(admin.token, { telemetryRetentionDays: 366 })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await put(admin.token, { telemetryRetentionDays: 10 })).body).toEqual({ telemetryRetentionDays: 10, maxDays: 365 });
    const audit = await db.platformQuery<{ details: unknown }>("SELECT details FROM security_events WHERE event_type = 'RETENTION_CHANGED'", []);
    expect(audit).toEqual([{ details: { from: 90, to: 10 } }]);
  });

  it('drops whole partitions every tenant\'s retention has passed, deletes in batches what one tenant keeps less of, and leaves the rest', async () => {
    const [brief, archive] = await Promise.all(['brief', 'archive'].map(async (slug) => (await db.platformQuery<{ id: string }>('SELECT id FROM tenants WHERE slug = $1', [slug]))[0]!.id));
    await db.platformQuery("UPDATE tenants SET telemetry_retention_days = 10 WHERE slug = 'brief'", []);
    // Partitions made 120 days ago, as a gateway running then made them.
    await new TelemetryRetention(db, OPTIONS, () => day(-120)).maintain();
    const old = `telemetry_p${ymd(day(-120))}_${ymd(day(-119))}`;
    expect(await partitions()).toContain(old);
    for (const daysAgo of [120, 30, 5]) {
      await write(shortKeeper, brief!, daysAgo);
      await write(longKeeper, archive!, daysAgo);
    }
    const report = await new TelemetryRetention(db, OPTIONS).maintain();
    expect(report.dropped).toEqual(expect.arrayContaining([old, `device_events_p${ymd(day(-120))}_${ymd(day(-119))}`]));
    expect(await partitions()).not.toContain(old);
    // brief keeps 10 days (batches of 2 rows); archive the default 90.
    for (const table of ['telemetry', 'device_events'] as const) {
      expect(await ages(shortKeeper, table), table).toEqual([5]);
      expect(await ages(longKeeper, table), table).toEqual([5, 30]);
    }
  });

  it('two gateways on one database maintain without clashing: each partition is made once', async () => {
    const other = new Database(createPool((db.pool as typeof db.pool & { options: { connectionString: string } }).options.connectionString, 2));
    try {
      const later = () => day(40);
      const reports = await Promise.all([new TelemetryRetention(db, OPTIONS, later).maintain(), new TelemetryRetention(other, OPTIONS, later).maintain()]);
      const created = reports.flatMap((report) => report.created);
      expect(new Set(created).size).toBe(created.length);
      for (const table of ['telemetry', 'device_events']) {
        for (let ahead = 40; ahead <= 43; ahead++) expect(await partitions()).toContain(`${table}_p${ymd(day(ahead))}_${ymd(day(ahead + 1))}`);
      }
    } finally {
      await other.close();
    }
  });

  it('DELETE /v1/devices/<name>/data purges one device\'s telemetry and events only, needs data.purge, and is audited', async () => {
    const purged = await gw.device('brief', 'purged-meter');
    const kept = await gw.device('brief', 'kept-meter');
    for (const device of [purged, kept]) {
      const client = await connect(gw.endpoints.tcp, { username: device.username, password: device.password });
      const name = device.username.split('@')[0];
      await client.publishAsync(`devices/${name}/telemetry`, '{"n":1}', { qos: 1 });
      await client.publishAsync(`devices/${name}/events/alarm`, '{"n":1}', { qos: 1 });
      await client.endAsync();
    }
    const refused = await call<ErrorBody>(gw.base, 'DELETE', '/v1/devices/purged-meter/data', { token: member.token });
    expect(refused.body.error.code).toBe('POLICY_DENIED');
    const answer = await call(gw.base, 'DELETE', '/v1/devices/purged-meter/data', { token: admin.token });
    expect(answer.body).toEqual({ name: 'purged-meter', telemetryDeleted: 1, eventsDeleted: 1 });
    expect([await ages(purged, 'telemetry'), await ages(purged, 'device_events')]).toEqual([[], []]);
    expect([await ages(kept, 'telemetry'), await ages(kept, 'device_events')]).toEqual([[0], [0]]);
    const audit = await db.platformQuery<{ details: unknown }>("SELECT details FROM security_events WHERE event_type = 'DATA_PURGED'", []);
    expect(audit).toEqual([{ details: { name: 'purged-meter', telemetryDeleted: 1, eventsDeleted: 1 } }]);
  });
});
