import { randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { jwtVerify, type JWTPayload } from 'jose';

export type FakeGoogleOAuthOptions = {
  clientEmail: string;
  /** The public key of the service account the test made. */
  publicKey: KeyObject;
  /** The assertion's audience the endpoint accepts (Google checks its own token URL). */
  audience: string;
  /** The one scope the service account asks for. */
  scope: string;
};

/**
 * Google's OAuth2 token endpoint for service accounts (the JWT bearer grant,
 * RFC 7523): it verifies the RS256 assertion against the account's key (iss,
 * aud, scope, at most an hour old) and issues an access token the fake API
 * behind it then accepts. Shared by the FCM and Home Graph fakes.
 */
export class FakeGoogleOAuth {
  readonly assertions: JWTPayload[] = [];
  private readonly issued = new Set<string>();
  /** Set to answer every token request with this error (Google's token endpoint down or refusing). */
  tokenAnswer?: { status: number; error: string };

  constructor(private readonly options: FakeGoogleOAuthOptions) {}

  /** Whether the `authorization` header carries a token this endpoint issued. */
  accepts(authorization: string | undefined): boolean {
    return this.issued.has(String(authorization ?? '').replace(/^Bearer /, ''));
  }

  /** Makes every access token issued so far invalid (a revoked grant). */
  revokeAccessTokens(): void {
    this.issued.clear();
  }

  reset(): void {
    this.assertions.length = 0;
    this.tokenAnswer = undefined;
  }

  async token(body: string, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(body);
    if (this.tokenAnswer) return reply(res, this.tokenAnswer.status, { error: this.tokenAnswer.error });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return reply(res, 400, { error: 'unsupported_grant_type' });
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', this.options.publicKey, {
        algorithms: ['RS256'], issuer: this.options.clientEmail, audience: this.options.audience, maxTokenAge: '1h',
      });
      if (payload.scope !== this.options.scope) return reply(res, 400, { error: 'invalid_scope' });
      this.assertions.push(payload);
    } catch {
      return reply(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    this.issued.add(accessToken);
    reply(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }
}

export function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(JSON.stringify(body));
}

/** A Google API fake over HTTPS on a random loopback port: each request's body read, then `route`d. */
export abstract class HttpsFake {
  private server?: https.Server;
  port = 0;

  constructor(private readonly tls: { cert: string; key: string }) {}

  protected abstract route(req: IncomingMessage, body: string, res: ServerResponse): void | Promise<void>;

  async start(): Promise<this> {
    this.server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => void this.read(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async read(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await this.route(req, Buffer.concat(chunks).toString('utf8'), res);
  }
}
