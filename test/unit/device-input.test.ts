import { describe, expect, it } from 'vitest';
import { batchRefused, checkBatch, checkChange, checkNewDevice, MAX_BATCH } from '../../src/core/devices/device-input.js';

describe('a new device, checked', () => {
  it('normalises a good one: defaults, trimmed texts, capability flags', () => {
    expect(checkNewDevice({ name: 'door-1', type: 'lock', capabilities: [{ name: 'lock', requiresPin: true }], displayName: ' Front door ', nicknames: [' Entrance '], room: 'Hall' })).toEqual({
      problems: [], named: {},
      device: {
        name: 'door-1', type: 'lock', capabilities: [{ name: 'lock', requiresPin: true, requiresApproval: false }],
        displayName: 'Front door', nicknames: ['Entrance'], room: 'Hall', ownerUserId: null, certificateCn: null,
      },
    });
    expect(checkNewDevice({ name: 'x' }).device).toMatchObject({ type: 'other', capabilities: [], displayName: null, nicknames: [], room: null });
  });

  it('lists every problem at once', () => {
    const { device, problems } = checkNewDevice({
      name: 'bad/name', type: 'toaster', capabilities: [{ name: 'unlock' }, { name: 'power' }, { name: 'power' }],
      displayName: '   ', nicknames: Array.from({ length: 11 }, (_, i) => `n${i}`), room: 'x'.repeat(65), ownerUserId: 'me', certificateCn: 'a@b',
    });
    expect(device).toBeUndefined();
    expect(problems.join('\n')).toMatch(/Device name "bad\/name"/);
    expect(problems.join('\n')).toMatch(/Unknown device type "toaster"/);
    expect(problems.join('\n')).toMatch(/"unlock" is a command of the capability "lock"/);
    expect(problems.join('\n')).toMatch(/Capability "power" is given twice/);
    expect(problems.join('\n')).toMatch(/displayName must not be empty/);
    expect(problems.join('\n')).toMatch(/At most 10 nicknames/);
    expect(problems.join('\n')).toMatch(/room must be at most 64/);
    expect(problems.join('\n')).toMatch(/ownerUserId "me" is not a user id/);
    expect(problems.join('\n')).toMatch(/certificateCn must not contain "@"/);
  });

  it('refuses nicknames given twice (case aside), control characters and NUL', () => {
    expect(checkNewDevice({ name: 'a', nicknames: ['Lamp', 'lamp'] }).problems).toEqual(['The nickname "lamp" is given twice.']);
    expect(checkNewDevice({ name: 'a', displayName: 'a\u0007b' }).problems[0]).toMatch(/control characters/);
    expect(checkNewDevice({ name: 'a', room: 'a\u0000b' }).problems[0]).toMatch(/U\+0000/);
  });
});

describe('a batch, checked as a whole', () => {
  it('reports each bad entry by index, duplicates within the batch included, and keeps the good ones', () => {
    const { devices, problems } = checkBatch([
      { name: 'a' }, { name: 'b', type: 'toaster' }, { name: 'a' }, { name: 'c', certificateCn: 'cn-1' }, { name: 'd', certificateCn: 'cn-1' },
    ]);
    expect(devices.map((d) => d.name)).toEqual(['a', 'c']);
    expect(problems).toEqual([
      { index: 1, name: 'b', message: expect.stringMatching(/Unknown device type/) },
      { index: 2, name: 'a', message: 'The name "a" is also entry 0\'s.' },
      { index: 4, name: 'd', message: 'The certificateCn "cn-1" is also entry 3\'s.' },
    ]);
  });

  it('is between 1 and MAX_BATCH devices', () => {
    expect(checkBatch([]).problems).toEqual([{ index: -1, message: 'The batch is empty.' }]);
    const big = checkBatch(Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ name: `d${i}` })));
    expect(big.problems).toEqual([{ index: -1, message: `At most ${MAX_BATCH} devices per batch (got ${MAX_BATCH + 1}).` }]);
  });

  it('refuses with VALIDATION_FAILED, every problem in details, the first few in the message', () => {
    const problems = Array.from({ length: 7 }, (_, index) => ({ index, name: `d${index}`, message: 'bad' }));
    const error = batchRefused(problems);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual({ problems });
    expect(error.message).toMatch(/^Nothing was created\. entry 0 \(d0\): bad/);
    expect(error.message).toMatch(/and 2 more/);
  });
});

describe('a change, checked', () => {
  it('keeps what is given, null clears, and throws every problem at once', () => {
    expect(checkChange({ displayName: null, room: ' Hall ', nicknames: [] })).toEqual({ displayName: null, room: 'Hall', nicknames: [] });
    expect(() => checkChange({ displayName: '', capabilities: [{ name: 'warp' }] })).toThrow(/displayName must not be empty.*Unknown capability "warp"/s);
  });
});
