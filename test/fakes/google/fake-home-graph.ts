import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Ajv } from 'ajv';
import type { ServiceAccount } from '../../../src/core/push/push-credentials.js';
import { FakeGoogleOAuth, HttpsFake, reply } from '../../support/fake-google-oauth.js';
import { fakeTls } from '../../support/push-fakes/push-tls.js';
import { GOOGLE_PROJECT } from './account-link.js';

export type ReportedState = { requestId: string; agentUserId: string; states: Record<string, Record<string, unknown>> };

/**
 * Home Graph's two calls as Google documents them
 * (https://developers.home.google.com/reference/home-graph/rest/v1/devices):
 * `reportStateAndNotification` with requestId, agentUserId and
 * payload.devices.states; `requestSync` with agentUserId (and async).
 */
const BODIES = {
  reportStateAndNotification: {
    type: 'object', additionalProperties: false, required: ['requestId', 'agentUserId', 'payload'],
    properties: {
      requestId: { type: 'string', minLength: 1 }, eventId: { type: 'string' }, followUpToken: { type: 'string' },
      agentUserId: { type: 'string', minLength: 1 },
      payload: {
        type: 'object', additionalProperties: false, required: ['devices'],
        properties: {
          devices: {
            type: 'object', additionalProperties: false, minProperties: 1,
            properties: {
              states: { type: 'object', minProperties: 1, additionalProperties: { type: 'object', properties: { online: { type: 'boolean' } } } },
              notifications: { type: 'object' },
            },
          },
        },
      },
    },
  },
  requestSync: {
    type: 'object', additionalProperties: false, required: ['agentUserId'],
    properties: { agentUserId: { type: 'string', minLength: 1 }, async: { type: 'boolean' } },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validators = { reportStateAndNotification: ajv.compile(BODIES.reportStateAndNotification), requestSync: ajv.compile(BODIES.requestSync) };

/** Home Graph over HTTPS behind Google's OAuth2 token endpoint (at `/token`), with a switch to be down. */
export class FakeHomeGraph extends HttpsFake {
  readonly reports: ReportedState[] = [];
  readonly syncs: string[] = [];
  /** Bodies that did not match Google's shape: a test expects none. */
  readonly rejected: string[] = [];
  /** Calls answered 503 while down. */
  failures = 0;
  down = false;
  readonly oauth: FakeGoogleOAuth;

  constructor(private readonly options: { tls: { cert: string; key: string }; clientEmail: string; publicKey: KeyObject }) {
    super(options.tls);
    // google-auth-library signs for Google's own token URL whatever token_uri says (Google checks that audience).
    this.oauth = new FakeGoogleOAuth({ clientEmail: options.clientEmail, publicKey: options.publicKey, audience: 'https://oauth2.googleapis.com/token', scope: 'https://www.googleapis.com/auth/homegraph' });
  }

  get tokenUri(): string {
    return `https://127.0.0.1:${this.port}/token`;
  }

  get baseUrl(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  protected async route(req: IncomingMessage, text: string, res: ServerResponse): Promise<void> {
    if (req.method === 'POST' && req.url === '/token') return this.oauth.token(text, res);
    const call = /^\/v1\/devices:(reportStateAndNotification|requestSync)$/.exec(req.url ?? '')?.[1] as keyof typeof validators | undefined;
    if (req.method !== 'POST' || !call) return reply(res, 404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
    if (!this.oauth.accepts(req.headers.authorization)) return reply(res, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
    if (this.down) {
      this.failures++;
      return reply(res, 503, { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } });
    }
    const body = JSON.parse(text) as Record<string, unknown>;
    if (!validators[call](body)) {
      this.rejected.push(`${call}: ${ajv.errorsText(validators[call].errors)}`);
      return reply(res, 400, { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } });
    }
    if (call === 'requestSync') {
      this.syncs.push(body.agentUserId as string);
      return reply(res, 200, {});
    }
    const { requestId, agentUserId, payload } = body as unknown as { requestId: string; agentUserId: string; payload: { devices: { states: ReportedState['states'] } } };
    this.reports.push({ requestId, agentUserId, states: payload.devices.states });
    reply(res, 200, { requestId });
  }
}

export type HomeGraphSetup = {
  graph: FakeHomeGraph;
  /** The gateway's environment: Home Graph at the fake, its CA trusted, reports every 100 ms, a keyring of the test's own. */
  env: Record<string, string>;
  /** A service account whose key the fake's token endpoint accepts. */
  serviceAccount: ServiceAccount;
  close(): Promise<void>;
};

/** A fake Home Graph with everything a gateway needs to report to it. */
export async function setUpHomeGraph(): Promise<HomeGraphSetup> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'home-graph-'));
  const tls = await fakeTls();
  await writeFile(path.join(dir, 'ca.pem'), tls.ca);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = `home-graph@${GOOGLE_PROJECT}.iam.gserviceaccount.com`;
  const graph = await new FakeHomeGraph({ tls, clientEmail, publicKey: rsa.publicKey }).start();
  return {
    graph,
    env: {
      GOOGLE_HOMEGRAPH_URL: graph.baseUrl, GOOGLE_HOMEGRAPH_CA: path.join(dir, 'ca.pem'), GOOGLE_REPORT_STATE_INTERVAL_MS: '100',
      PUSH_CREDENTIAL_KEYRING: path.join(dir, 'keyring.json'),
    },
    serviceAccount: {
      project_id: GOOGLE_PROJECT, client_email: clientEmail, private_key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), private_key_id: 'key-1', token_uri: graph.tokenUri,
    },
    async close() {
      await graph.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
