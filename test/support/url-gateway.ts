import { exitOf, freePort, gatewayEnv, spawnGateway, waitFor } from './processes.js';

export type UrlGateway = {
  /** The environment it runs with: `gatehouse …` given it uses the same database. */
  env: NodeJS.ProcessEnv;
  base: string;
  process: ReturnType<typeof spawnGateway>;
  /** SIGTERM (if still running) and the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/**
 * `gatehouse start` as a child process over a database of the test's own
 * (DATABASE_URL: no embedded server, so it starts in a second or two), on free
 * ports, once /readyz answers 200.
 */
export async function spawnUrlGateway(databaseUrl: string, overrides: Record<string, string> = {}): Promise<UrlGateway> {
  const [httpPort, mqttPort, mqttsPort] = [await freePort(), await freePort(), await freePort()];
  const env = gatewayEnv({ DATABASE_URL: databaseUrl, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), MQTTS_PORT: String(mqttsPort), ...overrides });
  const base = `http://127.0.0.1:${httpPort}`;
  const child = spawnGateway(env);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exitOf(child);
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}: ${child.output()}`);
      return (await fetch(`${base}/readyz`)).status === 200 ? true : undefined;
    }, 30_000, 'readyz');
  } catch (error) {
    child.kill('SIGKILL');
    await exitOf(child);
    throw new Error(`${(error as Error).message}\n--- its output:\n${child.output().slice(-4000)}`, { cause: error });
  }
  return { env, base, process: child, stop };
}
