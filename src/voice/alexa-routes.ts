import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Core } from '../core/create-core.js';
import type { Logger } from '../logger.js';
import { ChangeReports } from './alexa/change-reports.js';
import { EventGrants } from './alexa/event-grants.js';
import type { SeenOnce } from '../fleet/seen-once.js';
import { verifyForwarded } from './alexa/forwarder-signature.js';
import { handleDirective } from './alexa/smart-home.js';
import { keepBodiesRaw, rawBody } from './raw-body.js';

export type AlexaRouteOptions = {
  core: Core; config: Config['alexa']; log: Logger; answered?: (directive: string, outcome: string) => void;
  /** The forwarder signatures already received, fleet-wide (Fleet.seenOnce). */
  seen: SeenOnce;
  /** Told of the ChangeReport sender once it runs (tests flush it). */
  changeReports?: (reports: ChangeReports) => void;
};

/**
 * POST /voice/alexa/smart-home: directives relayed by the Lambda forwarder
 * (Alexa sends Smart Home directives only to a Lambda: DESIGN.md §5). The body
 * is kept raw and verified (skill, time, HMAC, replay) before it is parsed;
 * then every directive answers 200 with an Alexa event, errors included, as
 * the Lambda hands it to Alexa unchanged.
 */
export async function alexaRoutes(app: FastifyInstance, { core, config, log, answered, changeReports, seen }: AlexaRouteOptions): Promise<void> {
  const alexaLog = log.child({ component: 'alexa' });
  const grants = new EventGrants(core, { lwaClients: config.lwaClients, lwaTokenUrl: config.lwaTokenUrl, eventGatewayUrl: config.eventGatewayUrl }, alexaLog);
  const options = { core, log: alexaLog, waitMs: config.commandWaitMs, answered, grants, deferralSeconds: config.deferralSeconds };
  // Events go out only for skills with a Login with Amazon client: without one there can be no grant.
  if (config.lwaClients.size > 0) {
    const reports = new ChangeReports(core, grants, { intervalMs: config.reportIntervalMs, log: alexaLog });
    app.addHook('onClose', () => reports.close());
    changeReports?.(reports);
  }
  keepBodiesRaw(app);
  // Documented, not validated by schema: the signature is checked before anything in the request is read.
  const schema = {
    summary: 'Alexa Smart Home directive, relayed by deploy/alexa-lambda',
    description: 'Signed with X-Gatehouse-Skill, X-Gatehouse-Timestamp (Unix seconds) and X-Gatehouse-Signature (v1=hex HMAC-SHA256 of "<timestamp>.<body>"). Answers 200 with the Alexa event (errors included as Alexa.ErrorResponse); 401 REQUEST_SIGNATURE_INVALID or REQUEST_STALE, 409 REQUEST_REPLAYED before the directive is read.',
    tags: ['voice'],
  };
  app.post('/voice/alexa/smart-home', { schema }, async (request) => {
    const raw = rawBody(request);
    const skillId = await verifyForwarded(request.headers, raw, config.skillSecrets, seen);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    return handleDirective(options, body, skillId);
  });
}
