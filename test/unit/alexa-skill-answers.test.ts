import type { Intent } from 'ask-sdk-model';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/core/errors.js';
import { answerForError, answerForStatus, withoutPin } from '../../src/voice/alexa-skill/answers.js';
import { listOf, say } from '../../src/voice/alexa-skill/speech.js';
import { stateFacts } from '../../src/voice/alexa-skill/state-facts.js';
import type { Turn } from '../../src/voice/alexa-skill/turn.js';

const intent: Intent = {
  name: 'RunCapabilityIntent', confirmationStatus: 'NONE',
  slots: { device: { name: 'device', value: 'gate', confirmationStatus: 'NONE' }, pin: { name: 'pin', value: '4321', confirmationStatus: 'NONE' } },
};
const turn = { intent, locale: 'en-US' } as unknown as Turn;
const about = { device: 'gate', spoken: 'Gate', command: 'open', said: 'open' };

describe('what the skill says, as data', () => {
  it('a command waiting for a person\'s approval says the request was sent', () => {
    const answer = answerForStatus('awaiting_approval', about);
    expect(say('en-US', answer.say!, answer.params)).toBe('open on Gate needs a person\'s approval. I\'ve sent the request.');
    expect(answer.outcome).toBe('AWAITING_APPROVAL');
  });

  it('the PIN refusals keep the dialog (ElicitSlot) with the PIN slot emptied; a lockout ends it', () => {
    for (const code of ['PIN_REQUIRED', 'PIN_INVALID'] as const) {
      const answer = answerForError(turn, new GatewayError(code), about);
      expect(answer.elicit?.slot).toBe('pin');
      expect(JSON.stringify(answer)).not.toContain('4321');
    }
    const noPin = answerForError(turn, new GatewayError('PIN_REQUIRED', 'x', { pinSet: false }), about);
    expect([noPin.say, noPin.elicit]).toEqual(['noPin', undefined]);
    expect(answerForError(turn, new GatewayError('PIN_LOCKED'), about)).toMatchObject({ say: 'pinLocked', outcome: 'PIN_LOCKED' });
    expect(answerForError(turn, new GatewayError('PIN_LOCKED'), about).elicit).toBeUndefined();
    expect(withoutPin(intent).slots!.device!.value).toBe('gate');
  });

  it('a failure the table does not name is thrown on (ours, not the caller\'s)', () => {
    expect(() => answerForError(turn, new GatewayError('DATABASE_UNAVAILABLE'), about)).toThrow(GatewayError);
    expect(() => answerForError(turn, new Error('boom'), about)).toThrow('boom');
  });

  it('speaks a device\'s state briefly, in the order people expect, in English and German', () => {
    const reported = { humidity: 60, temperature: 21.5, battery_low: false, moving: false, position: 40 };
    expect(listOf('en-US', stateFacts('en-US', reported))).toBe('open 40 percent, 21.5 degrees and humidity 60 percent');
    expect(stateFacts('de-DE', reported, 'temperature')).toEqual(['21.5 Grad']);
  });
});
