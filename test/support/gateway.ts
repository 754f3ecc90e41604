import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/main.js';
import type { Logger } from '../../src/logger.js';
import { createEmptyDatabase, silentLog } from './database.js';

export type TestGateway = { gateway: Gateway; base: string; close(): Promise<void> };

/** The real gateway, in this process, on random ports, over a fresh database. */
export async function startTestGateway(env: Record<string, string> = {}, log: Logger = silentLog, options: GatewayOptions = {}): Promise<TestGateway> {
  const url = env.DATABASE_URL ?? await createEmptyDatabase();
  const config = loadConfig({ DATABASE_URL: url, HTTP_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const gateway = await startGateway(config, log, options);
  // The same server by IP. Its tokens' issuer is gateway.publicUrl: PUBLIC_URL when env sets one, else http://localhost:<the bound port>.
  const base = `http://127.0.0.1:${gateway.httpPort}`;
  return { gateway, base, close: () => gateway.close() };
}

export type JsonResponse<T = Record<string, unknown>> = { status: number; body: T; headers: Headers };

export async function call<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    redirect: 'manual',
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
}
