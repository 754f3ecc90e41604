import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import { refusedWith } from '../support/mqtt.js';
import { BIN, exitOf, freePort, gatewayEnv, waitFor } from '../support/processes.js';

/** `gatehouse start` writing its JSON log straight into a file, as under a process supervisor. */
describe('the log file of a gateway', () => {
  let dir: string;
  let logFile: string;
  let gateway: ChildProcess;
  let base: string;
  let mqttUrl: string;
  const log = () => readFile(logFile, 'utf8');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-logs-'));
    logFile = path.join(dir, 'gatehouse.log');
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${httpPort}`;
    mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    const fd = openSync(logFile, 'a');
    gateway = spawn(process.execPath, [BIN, 'start'], {
      env: gatewayEnv({ DATABASE_URL: await createEmptyDatabase(), HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), LOG_LEVEL: 'info' }),
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    await waitFor(async () => ((await fetch(`${base}/healthz`)).status === 200 ? true : undefined), 60_000, 'the gateway to answer');
  }, 90_000);

  afterAll(async () => {
    if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGKILL');
    await exitOf(gateway);
    await rm(dir, { recursive: true, force: true });
  });

  it('has a quiet gateway\'s line within moments, not when a buffer fills', async () => {
    expect(await refusedWith(mqttUrl, { username: 'nobody@nowhere', password: 'wrong', clientId: 'log-probe' })).toBe(4);
    await waitFor(async () => ((await log()).includes('log-probe') ? true : undefined), 10_000, 'the refused CONNECT in the log file');
  });

  it('has "serving" on disk once requests are answered, even if the process is then SIGKILLed', async () => {
    gateway.kill('SIGKILL');
    await exitOf(gateway);
    const lines = (await log()).trim().split('\n').map((line) => JSON.parse(line) as { msg: string });
    expect(lines.map((line) => line.msg)).toContain('gatehouse is serving');
  });
});
