import os from 'node:os';
import { loadKeyring } from '../../src/core/push/credential-keyring.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import { PushCredentials } from '../../src/core/push/push-credentials.js';
import { createTenant } from '../../src/core/tenants.js';
import type { Database } from '../../src/db/database.js';
import { DEFAULT_WORKER_OPTIONS } from '../../src/push/push-worker.js';
import type { BenchProvider } from '../push/bench-providers.js';
import type { FakeReport } from '../push/fake-process.js';
import { cpuSeconds, descendantsCpuSeconds, machineBusySeconds } from '../targets/process-stats.js';

export type PushSizes = { tenants: number; perTenant: number; usersPerTenant: number };

export type PushResult = {
  scenario: 'push';
  provider: 'apns' | 'fcm';
  deliveries: number;
  tenants: number;
  workers: number;
  /** Deliveries committed 'sent' per second, from the worker's first claim to the last commit. */
  rate: number;
  ms: number;
  /**
   * The sender calls (one per tenant per round, the tenants' in parallel) and
   * their mean time: what a round spends outside them is its claim, building
   * the payloads, opening the credentials and the settle.
   */
  sender: { calls: number; meanMs: number };
  /** Rows in state 'sent' counted in Postgres at the end. */
  committed: number;
  /** `sessions`: HTTP/2 connections to APNs, TLS connections to FCM (HTTP/1.1, one request at a time on each). */
  fake: Pick<FakeReport, 'requests' | 'accepted' | 'refused' | 'sessions'>;
  /** CPU per delivery in µs, and each side's busy cores over the run. */
  cpu: { gatewayUs: number; postgresUs: number; fakeUs: number; gatewayCores: number; postgresCores: number; fakeCores: number; busyCores: number };
  saturated: 'gateway' | 'postgres' | 'fake' | 'machine' | 'neither';
  ok: boolean;
};

type Gateway = { db: Database; pid: number; keyringFile: string; httpUrl: string };

/** The gateway's sender calls so far for a provider (gatehouse_push_send_seconds): how many, and their seconds summed. */
async function senderCalls(gateway: Gateway, provider: BenchProvider['provider']): Promise<{ calls: number; seconds: number }> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{provider="${provider}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { calls: value('gatehouse_push_send_seconds_count'), seconds: value('gatehouse_push_send_seconds_sum') };
}

const round = (value: number, places = 2) => Math.round(value * 10 ** places) / 10 ** places;

/**
 * Push throughput from the outbox to a provider: `tenants` tenants with a
 * credential of their own for it (APNs: one HTTP/2 connection each; FCM: up to
 * 32 HTTP/1.1 connections each), `usersPerTenant` people with one phone each
 * (iPhones for APNs, Android for FCM), `perTenant` alarm notifications and their deliveries
 * written up front with SQL, as the outbox writes them, behind a paused lane.
 * The lanes open at once; the gateway's workers (`PUSH_WORKERS`) find the
 * deliveries at their next poll, claim, build, send to the bench's fake
 * provider (its own process) and settle. Timed from the first claim to the moment
 * none is queued or leased; every delivery must be committed 'sent' and
 * accepted by the fake.
 */
export async function pushScenario(gateway: Gateway, fake: BenchProvider, sizes: PushSizes, workers: number): Promise<PushResult> {
  const { db } = gateway;
  const credentials = new PushCredentials(db, await loadKeyring(gateway.keyringFile), new AccessPolicy(db));
  const run = `${fake.provider}-${Date.now().toString(36)}`;
  const tenantIds: string[] = [];
  for (let t = 0; t < sizes.tenants; t++) {
    const tenant = await createTenant(db, { slug: `bench-push-${run}-${t}` });
    tenantIds.push(tenant.id);
    await db.withPlatform((tx) => tx.query(`INSERT INTO push_lanes (tenant_id, paused_until, pause_reason) VALUES ($1, 'infinity', 'bench: not yet')`, [tenant.id]));
    await credentials.set(tenant.id, fake.credential);
    await queueDeliveries(db, tenant.id, `${run}-${t}`, sizes, fake.platform);
  }
  const deliveries = sizes.tenants * sizes.perTenant;
  const callsBefore = await senderCalls(gateway, fake.provider);
  const before = { fake: await fake.report(), gateway: cpuSeconds(gateway.pid), postgres: descendantsCpuSeconds(gateway.pid), fakeCpu: cpuSeconds(fake.pid), machine: machineBusySeconds(), at: Date.now() };
  await db.withPlatform((tx) => tx.query('DELETE FROM push_lanes WHERE tenant_id = ANY($1)', [tenantIds]));
  const end = await drained(db, tenantIds);
  const after = { fake: await fake.report(), gateway: cpuSeconds(gateway.pid), postgres: descendantsCpuSeconds(gateway.pid), fakeCpu: cpuSeconds(fake.pid), machine: machineBusySeconds() };
  const callsAfter = await senderCalls(gateway, fake.provider);
  const calls = callsAfter.calls - callsBefore.calls;
  const [counted] = await db.platformQuery<{ sent: string; first_claim: number }>(
    // A claim leases a delivery until now() + leaseMs (next_attempt_at), which a 'sent' settle leaves as it was: the first claim's time is the earliest lease minus leaseMs.
    `SELECT count(*) FILTER (WHERE state = 'sent') AS sent, extract(epoch FROM min(next_attempt_at)) * 1000 - $2 AS first_claim
       FROM push_deliveries WHERE tenant_id = ANY($1)`,
    [tenantIds, DEFAULT_WORKER_OPTIONS.leaseMs],
  );
  const committed = Number(counted!.sent);
  // The workers find the opened lanes at their next poll (up to pollMs later): each side's CPU falls after the first claim, the machine's over the whole window.
  const wall = (end - Number(counted!.first_claim)) / 1000;
  const window = (end - before.at) / 1000;
  const [gatewayCpu, postgresCpu, fakeCpu] = [after.gateway - before.gateway, after.postgres - before.postgres, after.fakeCpu - before.fakeCpu];
  const cores = { gateway: gatewayCpu / wall, postgres: postgresCpu / wall, fake: fakeCpu / wall, machine: (after.machine - before.machine) / window };
  const full = (['gateway', 'postgres', 'fake'] as const).filter((side) => cores[side] > 0.9).sort((a, b) => cores[b] - cores[a]);
  const accepted = after.fake.accepted - before.fake.accepted;
  const refused = Object.fromEntries(Object.entries(after.fake.refused).map(([reason, n]) => [reason, n - (before.fake.refused[reason] ?? 0)]).filter(([, n]) => Number(n) > 0));
  const perDelivery = (seconds: number) => round((seconds / deliveries) * 1e6, 1);
  return {
    scenario: 'push', provider: fake.provider, deliveries, tenants: sizes.tenants, workers, rate: Math.round(committed / wall), ms: Math.round(wall * 1000),
    sender: { calls, meanMs: round(((callsAfter.seconds - callsBefore.seconds) / Math.max(calls, 1)) * 1000, 1) }, committed,
    fake: { requests: after.fake.requests - before.fake.requests, accepted, refused, sessions: after.fake.sessions - before.fake.sessions },
    cpu: {
      gatewayUs: perDelivery(gatewayCpu), postgresUs: perDelivery(postgresCpu), fakeUs: perDelivery(fakeCpu),
      gatewayCores: round(cores.gateway), postgresCores: round(cores.postgres), fakeCores: round(cores.fake), busyCores: round(cores.machine),
    },
    saturated: full[0] ?? (cores.machine > 0.9 * os.cpus().length ? 'machine' : 'neither'),
    // Every delivery committed once and received; a second copy (a crash between 200 and commit) would show as accepted > committed.
    ok: committed === deliveries && accepted === deliveries,
  };
}

/** One tenant's people, their phones, and `perTenant` alarms, one notification and one delivery each, round-robin over the phones. */
async function queueDeliveries(db: Database, tenantId: string, tag: string, sizes: PushSizes, platform: BenchProvider['platform']): Promise<void> {
  await db.withPlatform(async (tx) => {
    const { rows: users } = await tx.query<{ id: string }>(
      `INSERT INTO users (email, password_hash) SELECT 'push-' || $1 || '-' || n || '@bench.test', 'not-a-login' FROM generate_series(1, $2) AS n RETURNING id`,
      [tag, sizes.usersPerTenant],
    );
    const userIds = users.map((user) => user.id);
    await tx.query(`INSERT INTO memberships (tenant_id, user_id, role) SELECT $1, id, 'member' FROM unnest($2::uuid[]) AS u(id)`, [tenantId, userIds]);
    await tx.query(
      `INSERT INTO push_tokens (tenant_id, user_id, platform, environment, token, app_id, locale)
       SELECT $1, id, $3, 'production', encode(sha256(convert_to(id::text, 'UTF8')), 'hex'), 'com.bench.app', CASE WHEN k % 2 = 0 THEN 'en' ELSE 'de-AT' END
         FROM unnest($2::uuid[]) WITH ORDINALITY AS u(id, k)`,
      [tenantId, userIds, platform],
    );
    await tx.query(
      `WITH phones AS (
         SELECT id AS token_id, user_id, row_number() OVER (ORDER BY id) - 1 AS k FROM push_tokens WHERE tenant_id = $1
       ), written AS (
         INSERT INTO notifications (tenant_id, user_id, type, category, critical, data)
         SELECT $1, p.user_id, 'device.alarm', 'alarm', true,
                jsonb_build_object('device', 'sensor-' || (i % 50), 'kind', 'alarm/smoke', 'eventId', gen_random_uuid()::text)
           FROM generate_series(0, $2 - 1) AS i JOIN phones p ON p.k = i % $3
         RETURNING id, user_id
       )
       INSERT INTO push_deliveries (tenant_id, notification_id, token_id)
       SELECT $1, w.id, p.token_id FROM written w JOIN phones p ON p.user_id = w.user_id`,
      [tenantId, sizes.perTenant, sizes.usersPerTenant],
    );
  });
  await db.platformQuery('ANALYZE push_deliveries', []);
}

/** Waits until none of these tenants' deliveries is queued or leased (a count on the partial index); the time it saw that. */
async function drained(db: Database, tenantIds: string[]): Promise<number> {
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const [row] = await db.platformQuery<{ n: string }>(`SELECT count(*) AS n FROM push_deliveries WHERE tenant_id = ANY($1) AND state IN ('queued', 'leased')`, [tenantIds]);
    const left = Number(row!.n);
    if (left === 0) return Date.now();
    if (left !== last) [last, movedAt] = [left, Date.now()];
    if (Date.now() - movedAt > 15_000) throw new Error(`push: ${left} deliveries still queued or leased, none settled for 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
