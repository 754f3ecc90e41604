import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../src/auth/context.js';
import { CAPABILITY_MATRIX, PERMISSIONS, cellFor, scopesForChannel } from '../../src/core/policy/capability-matrix.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import { hasCode } from '../../src/core/errors.js';
import type { Database } from '../../src/db/database.js';
import { contextFor } from '../support/fixtures.js';

const TENANT = '01a20000-0000-7000-8000-000000000001';
// check() is the synchronous part of requireAccess; it never touches the database.
const policy = new AccessPolicy(undefined as unknown as Database);

function denial(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return hasCode(error, 'POLICY_DENIED') || hasCode(error, 'TENANT_REQUIRED') ? error.code : `unexpected: ${String(error)}`;
  }
}

describe('the capability matrix', () => {
  it('has a cell for every permission on every channel', () => {
    for (const permission of PERMISSIONS) for (const channel of CHANNELS) expect(cellFor(permission, channel).level).toMatch(/^[FLNS]$/);
  });

  it('never gives a voice channel an admin capability, whatever the role', () => {
    for (const channel of ['alexa', 'google'] as const) {
      const scopes = scopesForChannel(channel);
      for (const permission of ['tenant.members.manage', 'tenant.apps.manage', 'device.register', 'device.manage', 'security_events.read', 'data.purge'] as const) {
        expect(scopes).not.toContain(permission);
        const ctx = contextFor(TENANT, { kind: 'voice', channel, roles: ['owner'], scopes: PERMISSIONS });
        expect(denial(() => policy.check(ctx, permission))).toBe('POLICY_DENIED');
      }
    }
  });

  it('requires the PIN for sensitive commands on voice channels (seed 003: "L (only with PIN/2FA)")', () => {
    const grant = policy.check(contextFor(TENANT, { kind: 'voice', channel: 'alexa', roles: ['member'] }), 'device.command.sensitive');
    expect(grant.level).toBe('L');
    expect(grant.obligations).toEqual(['whitelist', 'pin']);
  });

  it('keeps IoT to telemetry and commands', () => {
    expect(scopesForChannel('iot').sort()).toEqual(['command.receive', 'telemetry.publish']);
  });

  it('records the seed row each permission encodes', () => {
    for (const spec of Object.values(CAPABILITY_MATRIX)) expect(spec.seedRow.length).toBeGreaterThan(5);
  });
});

describe('AccessPolicy.check (default deny)', () => {
  it('refuses anything that src/auth did not issue', () => {
    const forged = { tenantId: TENANT, principal: { kind: 'user', id: 'x' }, channel: 'web', roles: ['owner'], scopes: PERMISSIONS };
    expect(denial(() => policy.check(forged as never, 'device.read'))).toBe('TENANT_REQUIRED');
  });

  it('checks the role a permission needs', () => {
    expect(denial(() => policy.check(contextFor(TENANT, { roles: ['member'] }), 'device.register'))).toBe('POLICY_DENIED');
    expect(denial(() => policy.check(contextFor(TENANT, { roles: ['admin'] }), 'device.register'))).toBeUndefined();
    expect(denial(() => policy.check(contextFor(TENANT, { roles: ['viewer'] }), 'device.command'))).toBe('POLICY_DENIED');
    expect(denial(() => policy.check(contextFor(TENANT, { roles: [] }), 'device.read'))).toBe('POLICY_DENIED');
  });

  it('needs admin for sensitive commands from web and mobile', () => {
    expect(denial(() => policy.check(contextFor(TENANT, { roles: ['member'] }), 'device.command.sensitive'))).toBe('POLICY_DENIED');
    expect(policy.check(contextFor(TENANT, { channel: 'mobile', roles: ['admin'] }), 'device.command.sensitive').obligations).toEqual(['confirm']);
  });

  it('checks the scopes the credential carries', () => {
    const narrow = contextFor(TENANT, { roles: ['owner'], scopes: ['device.read'] });
    expect(denial(() => policy.check(narrow, 'device.read'))).toBeUndefined();
    expect(denial(() => policy.check(narrow, 'telemetry.read'))).toBe('POLICY_DENIED');
  });

  it('lets devices act only on the iot channel and users never publish telemetry', () => {
    expect(denial(() => policy.check(contextFor(TENANT, { kind: 'device', channel: 'iot' }), 'telemetry.publish'))).toBeUndefined();
    expect(denial(() => policy.check(contextFor(TENANT, { kind: 'device', channel: 'web', scopes: PERMISSIONS }), 'telemetry.publish'))).toBe('POLICY_DENIED');
    expect(denial(() => policy.check(contextFor(TENANT, { roles: ['owner'], scopes: PERMISSIONS }), 'telemetry.publish'))).toBe('POLICY_DENIED');
  });

  it('keeps system-only cells for system principals', () => {
    expect(denial(() => policy.check(contextFor(TENANT, { kind: 'app', channel: 'automation' }), 'telemetry.read'))).toBeUndefined();
    expect(denial(() => policy.check(contextFor(TENANT, { kind: 'user', channel: 'automation', roles: ['owner'] }), 'telemetry.read'))).toBe('POLICY_DENIED');
    expect(denial(() => policy.check(contextFor(TENANT, { kind: 'app', channel: 'automation' }), 'tenant.members.manage'))).toBe('POLICY_DENIED');
  });
});
