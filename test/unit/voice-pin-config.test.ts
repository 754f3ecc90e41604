import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('VOICE_PIN_MAX_FAILURES and VOICE_PIN_LOCK_MINUTES', () => {
  it('default to 5 failures and 15 minutes, take values in range and refuse the rest by name', () => {
    expect(loadConfig({}).voicePin).toEqual({ maxFailures: 5, lockMinutes: 15 });
    expect(loadConfig({ VOICE_PIN_MAX_FAILURES: '3', VOICE_PIN_LOCK_MINUTES: '60' }).voicePin).toEqual({ maxFailures: 3, lockMinutes: 60 });
    expect(() => loadConfig({ VOICE_PIN_MAX_FAILURES: '0' })).toThrow(/VOICE_PIN_MAX_FAILURES/);
    expect(() => loadConfig({ VOICE_PIN_LOCK_MINUTES: 'soon' })).toThrow(/VOICE_PIN_LOCK_MINUTES/);
  });
});
