import { describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../src/auth/context.js';
import { assertMayChange, assertMayGrant } from '../../src/auth/member-roles.js';
import { requireConfirmation } from '../../src/core/policy/confirmation.js';

/** The code a rule throws, or 'ok'. */
function outcome(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('the role rules', () => {
  it('lets no one grant a role above their own', () => {
    const table = Object.fromEntries(ROLES.map((actor) => [actor, ROLES.map((granted) => outcome(() => assertMayGrant(actor, granted)))]));
    expect(table).toEqual({
      viewer: ['ok', 'ROLE_ABOVE_OWN', 'ROLE_ABOVE_OWN', 'ROLE_ABOVE_OWN'],
      member: ['ok', 'ok', 'ROLE_ABOVE_OWN', 'ROLE_ABOVE_OWN'],
      admin: ['ok', 'ok', 'ok', 'ROLE_ABOVE_OWN'],
      owner: ['ok', 'ok', 'ok', 'ok'],
    });
  });

  it('lets no one change or remove a member above their own role', () => {
    const target = (role: Role) => ({ userId: 'u', role });
    expect(outcome(() => assertMayChange('admin', target('owner'), 'viewer', 2))).toBe('ROLE_ABOVE_OWN');
    expect(outcome(() => assertMayChange('admin', target('owner'), null, 2))).toBe('ROLE_ABOVE_OWN');
    expect(outcome(() => assertMayChange('admin', target('admin'), 'viewer', 1))).toBe('ok');
    expect(outcome(() => assertMayChange('admin', target('viewer'), 'owner', 1))).toBe('ROLE_ABOVE_OWN');
  });

  it('keeps the last owner, and only the last', () => {
    const owner = { userId: 'u', role: 'owner' as const };
    expect(outcome(() => assertMayChange('owner', owner, 'admin', 1))).toBe('LAST_OWNER');
    expect(outcome(() => assertMayChange('owner', owner, null, 1))).toBe('LAST_OWNER');
    expect(outcome(() => assertMayChange('owner', owner, 'owner', 1))).toBe('ok');
    expect(outcome(() => assertMayChange('owner', owner, 'admin', 2))).toBe('ok');
    expect(outcome(() => assertMayChange('owner', owner, null, 2))).toBe('ok');
  });

  it('refuses an actor who is no member any more', () => {
    expect(outcome(() => assertMayGrant(undefined, 'viewer'))).toBe('POLICY_DENIED');
    expect(outcome(() => assertMayChange(undefined, { userId: 'u', role: 'viewer' }, 'viewer', 1))).toBe('POLICY_DENIED');
  });
});

describe('the confirm obligation on admin changes', () => {
  it('asks for confirm: true only where the matrix says so', () => {
    expect(outcome(() => requireConfirmation({ obligations: ['confirm'] }, undefined, 'Deleting'))).toBe('CONFIRMATION_REQUIRED');
    expect(outcome(() => requireConfirmation({ obligations: ['confirm'] }, false, 'Deleting'))).toBe('CONFIRMATION_REQUIRED');
    expect(outcome(() => requireConfirmation({ obligations: ['confirm'] }, true, 'Deleting'))).toBe('ok');
    expect(outcome(() => requireConfirmation({ obligations: [] }, undefined, 'Deleting'))).toBe('ok');
  });
});
