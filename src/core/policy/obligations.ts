import type { Channel } from '../../auth/context.js';
import type { RiskClass } from '../capabilities/risk.js';
import { GatewayError } from '../errors.js';
import type { Obligation } from './capability-matrix.js';

export const VOICE_CHANNELS: readonly Channel[] = ['alexa', 'google'];
export const isVoiceChannel = (channel: Channel): channel is 'alexa' | 'google' => VOICE_CHANNELS.includes(channel);

/**
 * The tenant's voice policy for one capability on the caller's voice platform.
 * `requiresAck`: Google asks the person to acknowledge first (ackNeeded).
 * `platformVoiceCode`: Alexa's own voice code stands in for the PIN on the
 * capability's sensitive command (Alexa sends Unlock with no PIN).
 */
export type VoiceRule = { enabled: boolean; requiresPin: boolean; requiresAck: boolean; platformVoiceCode: boolean };

export type GateInput = {
  channel: Channel;
  /** The command's effective risk (catalogue class raised by the device's tightening). */
  risk: RiskClass;
  /** The catalogue's class for the command, before any tightening. */
  catalogueRisk: RiskClass;
  /** What the matrix cell of the permission asked for returned. */
  obligations: readonly Obligation[];
  /** The device's tightening: the PIN on every channel. */
  devicePin: boolean;
  /** The request carried `confirm: true` (on Google: the person acknowledged). */
  confirmed: boolean;
  /** The voice platform says it checked its own voice code (Alexa Smart Home's Unlock). */
  platformVoiceCode: boolean;
  /** On voice channels: the tenant's rule for the command's capability on that platform. */
  voiceRule: VoiceRule | undefined;
  /** The capability's class: its riskiest command's (lock is sensitive for its unlock). */
  capabilityRisk: RiskClass;
  capability: string;
  command: string;
};

/** What the command must still pass after the pure checks: the PIN, a person's approval; and whether the platform's code stood in for the PIN. */
export type Gate = { pin: boolean; approval: boolean; platformVoiceCode: boolean };

/**
 * Every obligation the matrix returns, enforced in one pure function (the
 * service does what it answers): `whitelist` (the tenant's voice policy),
 * `confirm` (CONFIRMATION_REQUIRED without an explicit flag), `pin` (the
 * caller's voice PIN), `human_approval` (and every critical command: persisted
 * awaiting approval, not sent). Commands critical by the catalogue never go
 * through voice; one a tenant raised to critical may be asked for by voice.
 */
export function gateFor(input: GateInput): Gate {
  const { channel, risk, obligations, capability, command } = input;
  // Critical by the catalogue (factory reset, firmware): never by voice. Critical because the tenant asked for an
  // approval on this device: voice may ask, and a person approves out of band (Google PENDING, Alexa "approval sent").
  if (input.catalogueRisk === 'critical' && isVoiceChannel(channel)) {
    throw new GatewayError('POLICY_DENIED', `"${command}" needs a person's approval and is never available through a voice assistant.`, { capability, command, channel });
  }
  if (obligations.includes('whitelist') || isVoiceChannel(channel)) {
    if (!input.voiceRule?.enabled) {
      throw new GatewayError('POLICY_DENIED', `"${capability}" is not enabled for ${channel} in this tenant's voice policy.`, { capability, command, channel });
    }
  }
  if (obligations.includes('confirm') && !input.confirmed) {
    throw new GatewayError('CONFIRMATION_REQUIRED', `"${command}" is a sensitive command: send it again with "confirm": true.`, { capability, command });
  }
  if (isVoiceChannel(channel) && input.voiceRule?.requiresAck && !input.confirmed) {
    throw new GatewayError('CONFIRMATION_REQUIRED', `"${capability}" asks the person to confirm "${command}" first.`, { capability, command, ack: true });
  }
  // The voice rule's PIN is the tenant's choice for a capability of normal commands only. For one with a
  // sensitive command (lock, open_close, arm_disarm) it is always on and means that command, for which the
  // matrix asks the PIN already; its normal commands (lock, close, arm) need none, as Google and Alexa expect
  // (Alexa sends no PIN for them). A device tightened with :pin still asks on every command.
  const voicePin = isVoiceChannel(channel) && Boolean(input.voiceRule?.requiresPin) && (risk !== 'normal' || input.capabilityRisk === 'normal');
  // Alexa's voice code replaces the voice PIN only where the tenant chose so; a device's own :pin still asks.
  const platformVoiceCode = channel === 'alexa' && input.platformVoiceCode && Boolean(input.voiceRule?.platformVoiceCode);
  const pin = ((obligations.includes('pin') || voicePin) && !platformVoiceCode) || input.devicePin;
  const approval = risk === 'critical' || obligations.includes('human_approval');
  return { pin, approval, platformVoiceCode };
}
