import { describe, expect, it } from 'vitest';
import { parseCapability } from '../../src/cli/commands.js';

describe('--capability NAME[:pin]', () => {
  it('reads the flags', () => {
    expect(parseCapability('unlock:pin')).toEqual({ name: 'unlock', requiresPin: true, requiresApproval: false });
    expect(parseCapability('on')).toEqual({ name: 'on', requiresPin: false, requiresApproval: false });
    expect(parseCapability('reset:pin:approval')).toEqual({ name: 'reset', requiresPin: true, requiresApproval: true });
  });
  it('says which flag it does not know', () => {
    expect(() => parseCapability('unlock:pni')).toThrow(/unknown flag pni/);
  });
});
