import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT } from 'jose';

/**
 * Google's side of a Conversational Actions webhook: its signing keys served
 * as a JWKS, the `google-assistant-signature` JWT (RS256, iss
 * accounts.google.com, aud the project id), and request bodies as Google
 * documents them (https://developers.google.com/assistant/conversational/webhooks).
 */
export class FakeAssistant {
  readonly keyId = `test-${randomUUID()}`;
  private readonly key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private server?: http.Server;
  port = 0;

  get jwksUrl(): string {
    return `http://127.0.0.1:${this.port}/oauth2/v3/certs`;
  }

  async start(): Promise<this> {
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(this.key.publicKey)), kid: this.keyId, alg: 'RS256', use: 'sig' }] });
    this.server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** The signature header; `key` other than Google's forges it, `expiresIn` in the past makes it stale. */
  sign(audience: string, options: { key?: KeyObject; expiresIn?: string | number } = {}): Promise<string> {
    return new SignJWT({ iss: 'https://accounts.google.com', aud: audience })
      .setProtectedHeader({ alg: 'RS256', kid: this.keyId, typ: 'JWT' })
      .setIssuedAt(typeof options.expiresIn === 'number' ? options.expiresIn - 3600 : undefined)
      .setExpirationTime(options.expiresIn ?? '1h')
      .sign(options.key ?? this.key.privateKey);
  }
}

export type ConversationParams = Record<string, string>;

/** A webhook request for handler `handler`, the linked account's token in user.params.bearerToken. */
export function conversationRequest(handler: string, bearerToken: string, options: { params?: ConversationParams; scene?: string; slots?: ConversationParams; session?: Record<string, unknown>; sessionId?: string } = {}) {
  const wrap = (values: ConversationParams = {}) => Object.fromEntries(Object.entries(values).map(([name, value]) => [name, { original: value, resolved: value }]));
  return {
    handler: { name: handler },
    intent: { name: handler, params: wrap(options.params), query: '' },
    scene: { name: options.scene ?? 'Main', slotFillingStatus: options.slots ? 'FINAL' : 'UNSPECIFIED', slots: Object.fromEntries(Object.entries(options.slots ?? {}).map(([name, value]) => [name, { mode: 'REQUIRED', status: 'FILLED', updated: true, value }])), next: {} },
    session: { id: options.sessionId ?? randomUUID(), params: options.session ?? {}, typeOverrides: [], languageCode: '' },
    user: { locale: 'en-US', params: { bearerToken }, accountLinkingStatus: 'LINKED', verificationStatus: 'VERIFIED', packageEntitlements: [], gaiamint: '', permissions: [], lastSeenTime: new Date().toISOString() },
    home: { params: {} },
    device: { capabilities: ['SPEECH', 'RICH_RESPONSE'] },
  };
}
