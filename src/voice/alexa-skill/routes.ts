import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Core } from '../../core/create-core.js';
import type { Logger } from '../../logger.js';
import type { SeenOnce } from '../../fleet/seen-once.js';
import { reasonOf } from './refusal.js';
import { verifySkillRequest, type Verification } from './request-verifier.js';
import { parsePems, publicRoots, SigningChains } from './signing-chain.js';
import { createSkill, type IntentCounter } from './skill.js';
import { keepBodiesRaw, rawBody } from '../raw-body.js';

export type AlexaSkillOptions = {
  core: Core; log: Logger; config: Config['alexaSkill']; waitMs: number; count: IntentCounter;
  /** Tests: another clock for the timestamp and certificate validity. */
  now?: () => number;
  /** The request ids already received, fleet-wide (Fleet.seenOnce). */
  seen: SeenOnce;
};

/** Verification's parts from the config: the public roots and Amazon's host unless a test names its own. */
export function verificationFor(options: AlexaSkillOptions): Verification {
  const now = options.now ?? Date.now;
  const { config } = options;
  const roots = config.rootCaFile ? parsePems(readFileSync(config.rootCaFile, 'utf8')) : publicRoots();
  const fetchCa = config.certFetchCaFile ? readFileSync(config.certFetchCaFile, 'utf8') : undefined;
  return { chains: new SigningChains({ roots, fetchCa, now }), certHost: config.certHost, skillIds: config.skillIds, seen: options.seen, now };
}

/**
 * POST /voice/alexa, the custom skill's HTTPS endpoint. The raw body is
 * verified (Amazon's rules, ±150 s, replay, skill id) before a byte of it is
 * read; a refusal is 400 (Amazon's rule) and a VOICE_REQUEST_REFUSED event.
 * https://developer.amazon.com/en-US/docs/alexa/custom-skills/host-a-custom-skill-as-a-web-service.html
 */
export async function alexaSkillRoutes(app: FastifyInstance, options: AlexaSkillOptions): Promise<void> {
  const verification = verificationFor(options);
  const skill = createSkill(options);
  keepBodiesRaw(app);
  const schema = {
    summary: 'Alexa custom skill request',
    description: 'Signed by Amazon (SignatureCertChainUrl, Signature-256). Answers 200 with the skill\'s response; 400 SKILL_REQUEST_REFUSED when verification fails.',
    tags: ['voice'],
  };
  app.post('/voice/alexa', { schema }, async (request) => {
    const raw = rawBody(request);
    try {
      const envelope = await verifySkillRequest(verification, request.headers, raw);
      return await skill(envelope);
    } catch (error) {
      const reason = reasonOf(error);
      if (reason) {
        options.count('unverified', reason);
        await options.core.voiceAccounts.recordRefusal('alexa', { reason, sourceIp: request.ip })
          .catch((err: unknown) => options.log.error({ err }, 'could not record a refused Alexa request'));
      }
      throw error;
    }
  });
}
