import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { JWT } from 'google-auth-library';
import type { ServiceAccount } from '../../../core/push/push-credentials.js';

/** https://developers.home.google.com/cloud-to-cloud/integration/report-state#service_account_key */
const SCOPE = 'https://www.googleapis.com/auth/homegraph';
/** Where google-auth-library's JWT client posts its assertion, whatever the key file's token_uri says. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export type HomeGraphEndpoint = { baseUrl: string; ca?: string; timeoutMs: number };

/**
 * Home Graph over plain HTTP with google-auth-library's JWT client (lighter
 * than @googleapis/homegraph, which would bring the whole discovery client for
 * two calls). The client caches its access token until it expires.
 */
export class HomeGraphClient {
  private readonly jwt: JWT;

  constructor(account: ServiceAccount, private readonly endpoint: HomeGraphEndpoint) {
    this.jwt = new JWT({
      email: account.client_email, key: account.private_key, keyId: account.private_key_id, scopes: [SCOPE],
      transporterOptions: { timeout: endpoint.timeoutMs, ...(endpoint.ca ? { agent: new https.Agent({ ca: endpoint.ca }) } : {}) },
    });
    // The key file's token_uri is where its tokens come from (an egress proxy, a test's fake): send the assertion there.
    this.jwt.transporter.interceptors.request.add({
      resolved: async (options) => (String(options.url) === GOOGLE_TOKEN_URL ? { ...options, url: new URL(account.token_uri) } : options),
    });
  }

  /** https://developers.home.google.com/cloud-to-cloud/integration/report-state */
  async reportState(agentUserId: string, states: Record<string, Record<string, unknown>>): Promise<void> {
    await this.post('/v1/devices:reportStateAndNotification', { requestId: randomUUID(), agentUserId, payload: { devices: { states } } });
  }

  /** https://developers.home.google.com/cloud-to-cloud/integration/request-sync */
  async requestSync(agentUserId: string): Promise<void> {
    await this.post('/v1/devices:requestSync', { agentUserId, async: true });
  }

  private async post(path: string, data: object): Promise<void> {
    // No retry here: the caller's queue backs off per tenant and keeps the device path free.
    await this.jwt.request({ url: `${this.endpoint.baseUrl}${path}`, method: 'POST', data, retry: false });
  }
}
