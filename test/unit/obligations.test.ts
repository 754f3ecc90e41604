import { describe, expect, it } from 'vitest';
import type { Channel } from '../../src/auth/context.js';
import { checkDecider } from '../../src/core/commands/approvals.js';
import { hasCode, type ErrorCode } from '../../src/core/errors.js';
import { AccessPolicy } from '../../src/core/policy/access-policy.js';
import { gateFor, type GateInput, type VoiceRule } from '../../src/core/policy/obligations.js';
import { defaultRule } from '../../src/core/voice-policy.js';
import type { Database } from '../../src/db/database.js';
import { contextFor } from '../support/fixtures.js';

const TENANT = '01a20000-0000-7000-8000-000000000001';
const ME = '00000000-0000-7000-8000-00000000000a';
const OTHER = '00000000-0000-7000-8000-00000000000b';
const policy = new AccessPolicy(undefined as unknown as Database);

function refusal(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (hasCode(error, 'POLICY_DENIED') || hasCode(error, 'CONFIRMATION_REQUIRED')) return error.code;
    throw error;
  }
}

function rule(enabled: boolean, requiresPin: boolean, extra: Partial<VoiceRule> = {}): VoiceRule {
  return { enabled, requiresPin, requiresAck: false, platformVoiceCode: false, ...extra };
}

/** gateFor for a command on a channel, with the obligations the real matrix returns for it. */
function gate(channel: Channel, risk: GateInput['risk'], extra: Partial<GateInput> = {}) {
  const permission = risk === 'normal' ? 'device.command' : 'device.command.sensitive';
  const kind = channel === 'automation' ? 'app' : 'user';
  const { obligations } = policy.check(contextFor(TENANT, { channel, kind }), permission);
  return gateFor({ channel, risk, catalogueRisk: risk, obligations, devicePin: false, confirmed: false, platformVoiceCode: false, voiceRule: undefined, capability: 'lock', command: 'unlock', capabilityRisk: 'sensitive', ...extra });
}

describe('obligations: what the matrix asks is enforced', () => {
  it('confirm: a sensitive command from web or mobile without "confirm": true is refused with CONFIRMATION_REQUIRED', () => {
    for (const channel of ['web', 'mobile'] as const) {
      expect(refusal(() => gate(channel, 'sensitive')), channel).toBe('CONFIRMATION_REQUIRED');
      expect(gate(channel, 'sensitive', { confirmed: true }), channel).toEqual({ pin: false, approval: false, platformVoiceCode: false });
      // A normal command asks for nothing.
      expect(gate(channel, 'normal'), channel).toEqual({ pin: false, approval: false, platformVoiceCode: false });
    }
  });

  it('whitelist: on voice only what the tenant\'s voice policy enables', () => {
    for (const channel of ['alexa', 'google'] as const) {
      expect(refusal(() => gate(channel, 'normal', { voiceRule: rule(false, false) })), channel).toBe('POLICY_DENIED');
      expect(refusal(() => gate(channel, 'normal', { voiceRule: undefined })), channel).toBe('POLICY_DENIED');
      expect(gate(channel, 'normal', { voiceRule: rule(true, false) }), channel).toEqual({ pin: false, approval: false, platformVoiceCode: false });
    }
  });

  it('pin: sensitive on voice always needs the PIN; a normal one when the voice policy says so; any channel when the device is tightened', () => {
    expect(gate('alexa', 'sensitive', { voiceRule: rule(true, false) })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
    expect(gate('google', 'normal', { voiceRule: rule(true, true), capability: 'power', command: 'turn_on', capabilityRisk: 'normal' })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
    // Locking (normal) on a lock (sensitive for its unlock): its always-on voice PIN is about unlocking; locking asks none.
    expect(gate('alexa', 'normal', { voiceRule: rule(true, true), command: 'lock' })).toEqual({ pin: false, approval: false, platformVoiceCode: false });
    expect(gate('alexa', 'normal', { voiceRule: rule(true, true), command: 'lock', devicePin: true })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
    expect(gate('web', 'sensitive', { confirmed: true, devicePin: true })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
    // The voice rule's PIN is about voice: it does not reach web.
    expect(gate('web', 'normal', { voiceRule: rule(true, true) })).toEqual({ pin: false, approval: false, platformVoiceCode: false });
  });

  it('ack: on Google, a capability the tenant marks needs the person\'s acknowledgement (sent again as confirmed)', () => {
    const voiceRule = rule(true, false, { requiresAck: true });
    const power = { capability: 'power', command: 'turn_on', capabilityRisk: 'normal' as const, voiceRule };
    expect(refusal(() => gate('google', 'normal', power))).toBe('CONFIRMATION_REQUIRED');
    expect(gate('google', 'normal', { ...power, confirmed: true })).toEqual({ pin: false, approval: false, platformVoiceCode: false });
  });

  it('platform voice code: Alexa\'s own code stands in for the PIN only where the tenant chose it, and never for a device\'s :pin', () => {
    const trusting = rule(true, true, { platformVoiceCode: true });
    expect(gate('alexa', 'sensitive', { voiceRule: trusting, platformVoiceCode: true })).toEqual({ pin: false, approval: false, platformVoiceCode: true });
    expect(gate('alexa', 'sensitive', { voiceRule: rule(true, true), platformVoiceCode: true })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
    expect(gate('alexa', 'sensitive', { voiceRule: trusting, platformVoiceCode: false })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
    expect(gate('alexa', 'sensitive', { voiceRule: trusting, platformVoiceCode: true, devicePin: true })).toEqual({ pin: true, approval: false, platformVoiceCode: true });
    expect(gate('google', 'sensitive', { voiceRule: trusting, platformVoiceCode: true })).toEqual({ pin: true, approval: false, platformVoiceCode: false });
  });

  it('human_approval: automation\'s sensitive commands, and every critical one, wait for a person; critical never through voice', () => {
    expect(gate('automation', 'sensitive')).toEqual({ pin: false, approval: true, platformVoiceCode: false });
    expect(gate('automation', 'normal')).toEqual({ pin: false, approval: false, platformVoiceCode: false });
    expect(gate('web', 'critical', { confirmed: true })).toEqual({ pin: false, approval: true, platformVoiceCode: false });
    expect(refusal(() => gate('web', 'critical'))).toBe('CONFIRMATION_REQUIRED');
    for (const channel of ['alexa', 'google'] as const) {
      expect(refusal(() => gate(channel, 'critical', { voiceRule: rule(true, true) })), channel).toBe('POLICY_DENIED');
    }
  });

  it('a command the tenant raised to critical (an approval on this device) may be asked for by voice and waits for a person; one critical by the catalogue may not', () => {
    const power = { capability: 'power', command: 'turn_on', capabilityRisk: 'normal' as const, voiceRule: rule(true, false) };
    expect(gate('google', 'critical', { ...power, catalogueRisk: 'normal' })).toMatchObject({ approval: true });
    expect(refusal(() => gate('google', 'critical', { ...power, catalogueRisk: 'critical' }))).toBe('POLICY_DENIED');
  });

  it('voice policy defaults from the catalogue: normal on, sensitive on with PIN, critical off', () => {
    expect(defaultRule('normal')).toEqual(rule(true, false));
    expect(defaultRule('sensitive')).toEqual(rule(true, true));
    expect(defaultRule('critical')).toEqual(rule(false, true));
  });
});

describe('approvals: who may decide', () => {
  const asked = (channel: Channel, id = ME) => ({ issued_by: { kind: 'user', id, channel }, owner_user_id: null, approval_second_person: false });
  const as = (channel: Channel, role: 'owner' | 'admin' | 'member', id = ME, kind: 'user' | 'app' = 'user') => contextFor(TENANT, { channel, roles: [role], id, kind });

  it('from web or mobile only, never by the automation channel or a voice assistant', () => {
    expect(refusal(() => checkDecider(as('mobile', 'admin', OTHER), 'approve', asked('web')))).toBeUndefined();
    expect(refusal(() => checkDecider(as('web', 'admin', OTHER), 'approve', asked('mobile')))).toBeUndefined();
    for (const channel of ['alexa', 'google', 'automation', 'iot'] as const) {
      expect(refusal(() => checkDecider(as(channel, 'owner', OTHER, channel === 'automation' ? 'app' : 'user'), 'approve', asked('web'))), channel).toBe('POLICY_DENIED');
    }
  });

  it('never from the channel that asked', () => {
    expect(refusal(() => checkDecider(as('web', 'owner', OTHER), 'approve', asked('web')))).toBe('POLICY_DENIED');
  });

  it('an owner or admin, or the device\'s owner user; not another member', () => {
    expect(refusal(() => checkDecider(as('mobile', 'member', OTHER), 'approve', asked('web')))).toBe('POLICY_DENIED');
    expect(refusal(() => checkDecider(as('mobile', 'member', OTHER), 'approve', { ...asked('web'), owner_user_id: OTHER }))).toBeUndefined();
  });

  it('the requester alone only when the tenant does not require a second person; denying one\'s own is always allowed', () => {
    expect(refusal(() => checkDecider(as('mobile', 'owner'), 'approve', asked('web')))).toBeUndefined();
    expect(refusal(() => checkDecider(as('mobile', 'owner'), 'approve', { ...asked('web'), approval_second_person: true }))).toBe('POLICY_DENIED');
    expect(refusal(() => checkDecider(as('mobile', 'owner'), 'deny', { ...asked('web'), approval_second_person: true }))).toBeUndefined();
  });
});
