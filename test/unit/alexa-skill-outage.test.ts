import type { RequestEnvelope } from 'ask-sdk-model';
import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/core/create-core.js';
import { GatewayError } from '../../src/core/errors.js';
import type { Logger } from '../../src/logger.js';
import { createSkill } from '../../src/voice/alexa-skill/skill.js';
import { skillRequest } from '../fakes/alexa/skill-requests.js';

const quiet = { error: () => undefined, child: () => quiet } as unknown as Logger;
const failingCore = (error: unknown) => ({ auth: { requests: { authenticateVoice: () => Promise.reject(error) } } }) as unknown as Core;

async function launch(core: Core, locale = 'en-US') {
  const counted: string[] = [];
  const skill = createSkill({ core, log: quiet, waitMs: 1000, count: (intent, outcome) => counted.push(`${intent}/${outcome}`) });
  const { response } = await skill(skillRequest('LaunchRequest', { skillId: 'amzn1.ask.skill.a', token: 't', locale }) as unknown as RequestEnvelope);
  return { card: response.card, speech: (response.outputSpeech as { ssml?: string } | undefined)?.ssml, counted };
}

describe('an outage never asks the person to link again', () => {
  it('a token check that fails for want of Postgres says Gatehouse has trouble, with no LinkAccount card', async () => {
    for (const error of [new GatewayError('DATABASE_UNAVAILABLE'), Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })]) {
      const answer = await launch(failingCore(error));
      expect(answer.card).toBeUndefined();
      expect(answer.speech).toBe('<speak>Gatehouse is having trouble right now. Please try again later.</speak>');
      expect(answer.counted).toEqual(['LaunchRequest/INTERNAL']);
    }
    expect((await launch(failingCore(new GatewayError('DATABASE_UNAVAILABLE')), 'de-DE')).speech).toMatch(/Gatehouse hat gerade ein Problem/);
  });

  it('only the token\'s own faults get the LinkAccount card', async () => {
    for (const code of ['TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED'] as const) {
      const answer = await launch(failingCore(new GatewayError(code)));
      expect(answer.card).toEqual({ type: 'LinkAccount' });
      expect(answer.counted).toEqual(['LaunchRequest/UNLINKED']);
    }
  });
});
