import { describe, expect, it } from 'vitest';
import { commandSentence, listSentence, spokenField, stateSentence } from '../../src/voice/google/conversation/speech.js';

const lamp = { name: 'desk-lamp', displayName: null, online: true, reported: { brightness: 40, on: true } };

describe('Google conversation: voice-safe sentences', () => {
  it('lists devices by display name, else by name with words for dashes', () => {
    expect(listSentence([])).toBe('You have no devices I can reach.');
    expect(listSentence([{ name: 'front-door', displayName: null }])).toBe('You have one device: front door.');
    expect(listSentence([{ name: 'a', displayName: 'Hall light' }, { name: 'b', displayName: 'Porch' }, { name: 'c_d', displayName: null }])).toBe('You have 3 devices: Hall light, Porch and c d.');
  });

  it('says a state with its unit, the on/off kind first, one asked-for field, or offline', () => {
    expect(spokenField('temperature', 19.5)).toBe('temperature 19.5 degrees');
    expect(spokenField('arm_mode', 'armed_away')).toBe('arm mode armed away');
    expect(stateSentence(lamp)).toBe('desk lamp is on, brightness 40 percent.');
    expect(stateSentence(lamp, 'Brightness')).toBe('desk lamp\'s brightness is 40 percent.');
    expect(stateSentence(lamp, 'on')).toBe('desk lamp is on.');
    expect(stateSentence(lamp, 'battery')).toBe('desk lamp has not reported its battery.');
    expect(stateSentence({ ...lamp, online: false })).toBe('desk lamp is offline.');
  });

  it('says what became of a command, with the outcome the audit records', () => {
    expect(commandSentence('succeeded', 'Desk lamp', 'turn_on')).toEqual({ say: 'Done. Desk lamp: turn on.', outcome: 'SUCCESS' });
    expect(commandSentence('awaiting_approval', 'Safe', 'factory_reset')).toEqual({ say: 'That needs approval. I have asked for it.', outcome: 'PENDING' });
    expect(commandSentence('failed', 'Desk lamp', 'turn_on')).toEqual({ say: 'Desk lamp could not do that.', outcome: 'ERROR' });
  });
});
