import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerGateway } from '../support/broker-fixture.js';
import { call } from '../support/gateway.js';
import { gatewayEnv, runCli, type CliResult } from '../support/processes.js';

/** The one JSON object a `--json` command prints, after checking that it succeeded. */
function answer(result: CliResult): Record<string, unknown> {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  const lines = result.stdout.trim().split('\n');
  expect(lines, result.stdout).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('gatehouse user pin, voice policy and tenant approvals (beside a running gateway)', () => {
  let gw: Awaited<ReturnType<typeof startBrokerGateway>>;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => runCli([...args, '--json'], env);

  beforeAll(async () => {
    gw = await startBrokerGateway();
    await gw.tenant('clihome');
    env = gatewayEnv({ DATABASE_URL: gw.gateway.databaseUrl });
  });
  afterAll(() => gw?.close());

  it('user pin set lets the member pass a PIN-gated command with it; user pin reset removes it', async () => {
    const member = await gw.user('clihome', 'pin@clihome.test', 'admin');
    await gw.device('clihome', 'cli-door', [{ name: 'lock', requiresPin: true, requiresApproval: false }]);
    expect(answer(await cli('user', 'pin', 'set', '--tenant', 'clihome', '--email', 'pin@clihome.test', '--pin', '8642'))).toEqual({ userId: member.id, pin: 'set' });
    const unlock = (pin: string) => call<{ status: string; error?: { code: string } }>(gw.base, 'POST', '/v1/devices/cli-door/commands', { token: member.token, body: { name: 'unlock', confirm: true, pin } });
    expect((await unlock('8642')).status).toBe(201);
    expect(answer(await cli('user', 'pin', 'reset', '--tenant', 'clihome', '--user', member.id))).toEqual({ userId: member.id, pin: 'reset' });
    expect((await unlock('8642')).body.error?.code).toBe('PIN_REQUIRED');
    const bad = await cli('user', 'pin', 'set', '--tenant', 'clihome', '--email', 'pin@clihome.test', '--pin', '12');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  }, 60_000);

  it('voice policy shows the defaults and changes one platform; tenant approvals switches the second person', async () => {
    const shown = answer(await cli('voice', 'policy', '--tenant', 'clihome', '--platform', 'google')) as { entries: { capability: string; enabled: boolean }[] };
    expect(shown.entries.find((e) => e.capability === 'power')).toMatchObject({ enabled: true });
    const changed = answer(await cli('voice', 'policy', '--tenant', 'clihome', '--platform', 'google', '--disable', 'power', '--enable', 'brightness:pin')) as {
      entries: { capability: string; enabled: boolean; requiresPin: boolean; source: string }[];
    };
    expect(changed.entries.find((e) => e.capability === 'power')).toMatchObject({ enabled: false, source: 'tenant' });
    expect(changed.entries.find((e) => e.capability === 'brightness')).toMatchObject({ enabled: true, requiresPin: true, source: 'tenant' });
    const critical = await cli('voice', 'policy', '--tenant', 'clihome', '--platform', 'alexa', '--enable', 'factory_reset');
    expect(JSON.parse(critical.stdout)).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });

    expect(answer(await cli('tenant', 'approvals', '--tenant', 'clihome'))).toEqual({ secondPerson: false });
    expect(answer(await cli('tenant', 'approvals', '--tenant', 'clihome', '--second-person', 'on'))).toEqual({ secondPerson: true });
  }, 60_000);
});
