import type { TenantContext } from '../../auth/context.js';
import type { Core } from '../../core/create-core.js';
import type { Logger } from '../../logger.js';
import { postEvent } from './event-gateway.js';
import { lwaTokens, LwaRefused, type LwaClient } from './lwa.js';
import type { Event } from './messages.js';

export type EventGrantOptions = { lwaClients: ReadonlyMap<string, LwaClient>; lwaTokenUrl: string; eventGatewayUrl: string };
export type SendOutcome = 'sent' | 'no-grant' | 'dropped' | 'rejected';

/** Worth sending again later (the gateway or LWA is down, throttled): the state report queue retries with backoff. */
export class EventGatewayUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventGatewayUnavailable';
  }
}

/** Refreshed this long before Amazon's expiry, so a token never dies in flight. */
const EXPIRY_MARGIN_MS = 60_000;

/**
 * Events to Alexa on a person's behalf: AcceptGrant's code exchanged with
 * Login with Amazon and kept (sealed, by the core), the access token refreshed
 * as it expires or when the gateway calls it invalid, and the grant dropped
 * when the gateway says the skill is disabled or LWA refuses the refresh token.
 */
export class EventGrants {
  private readonly refreshing = new Map<string, Promise<string | undefined>>();

  constructor(private readonly core: Core, private readonly options: EventGrantOptions, private readonly log: Logger) {}

  /** Alexa.Authorization.AcceptGrant: the code for tokens, kept for the caller and skill. */
  async accept(ctx: TenantContext, skillId: string, sessionId: string, code: string): Promise<void> {
    const tokens = await lwaTokens(this.options.lwaTokenUrl, this.client(skillId), { grant_type: 'authorization_code', code });
    await this.core.alexaGrants.accept(ctx, skillId, sessionId, tokens);
  }

  async has(ctx: TenantContext, skillId: string): Promise<boolean> {
    return (await this.core.alexaGrants.open(ctx, skillId)) !== undefined;
  }

  /**
   * One event to the gateway with the grant's token (`build` puts it in the
   * event's scope). Throws EventGatewayUnavailable when it should be tried again.
   */
  async send(ctx: TenantContext, skillId: string, build: (accessToken: string) => Event): Promise<SendOutcome> {
    for (const forceRefresh of [false, true]) {
      const token = await this.accessToken(ctx, skillId, forceRefresh);
      if (!token) return forceRefresh ? 'dropped' : 'no-grant';
      const answer = await postEvent(this.options.eventGatewayUrl, token, build(token));
      if (answer.outcome === 'accepted') return 'sent';
      if (answer.outcome === 'token-invalid' && !forceRefresh) continue;
      if (answer.outcome === 'skill-disabled') {
        await this.core.alexaGrants.drop(ctx, skillId, 'SKILL_DISABLED_EXCEPTION');
        return 'dropped';
      }
      if (answer.outcome === 'retry') throw new EventGatewayUnavailable(`The Alexa event gateway answered ${answer.status || 'nothing'}.`);
      this.log.warn({ tenantId: ctx.tenantId, skillId, status: answer.status, code: answer.code }, 'the Alexa event gateway refused an event');
      return 'rejected';
    }
    return 'rejected';
  }

  /** The grant's access token, refreshed when it is about to expire (or `force`d); undefined when there is no grant (any more). */
  private async accessToken(ctx: TenantContext, skillId: string, force: boolean): Promise<string | undefined> {
    const key = `${ctx.tenantId}/${ctx.principal.id}/${skillId}`;
    const inFlight = this.refreshing.get(key);
    if (inFlight) return inFlight;
    const tokens = await this.core.alexaGrants.open(ctx, skillId);
    if (!tokens) return undefined;
    if (!force && tokens.expiresAt.getTime() - EXPIRY_MARGIN_MS > Date.now()) return tokens.accessToken;
    // One refresh per grant at a time: LWA may rotate the refresh token, and a second use of the old one would fail.
    const refresh = this.refresh(ctx, skillId, tokens.refreshToken).finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, refresh);
    return refresh;
  }

  private async refresh(ctx: TenantContext, skillId: string, refreshToken: string): Promise<string | undefined> {
    try {
      const tokens = await lwaTokens(this.options.lwaTokenUrl, this.client(skillId), { grant_type: 'refresh_token', refresh_token: refreshToken });
      await this.core.alexaGrants.refreshed(ctx, skillId, tokens);
      return tokens.accessToken;
    } catch (error) {
      if (error instanceof LwaRefused && error.error === 'invalid_grant') {
        await this.core.alexaGrants.drop(ctx, skillId, 'LWA_INVALID_GRANT');
        return undefined;
      }
      throw new EventGatewayUnavailable(`Refreshing the Login with Amazon token failed: ${(error as Error).message}`);
    }
  }

  private client(skillId: string): LwaClient {
    const client = this.options.lwaClients.get(skillId);
    if (!client) throw new LwaRefused('no_client', `no Login with Amazon client is configured for skill ${skillId} (ALEXA_LWA_CLIENTS)`);
    return client;
  }
}
