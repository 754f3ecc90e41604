import { isGatewayError, type ErrorCode } from '../../core/errors.js';
import type { Directive } from './messages.js';

/** An answer Alexa understands as an error: its type, the interface that defines it, the fields the type requires. */
export type AlexaErrorSpec = { type: string; namespace?: string; message: string; extra?: Record<string, unknown> };

/** Raised by a handler for what it finds itself (an endpoint it does not know, a directive it does not take). */
export class AlexaError extends Error {
  constructor(readonly type: string, message: string, readonly namespace = 'Alexa', readonly extra?: Record<string, unknown>) {
    super(message);
    this.name = 'AlexaError';
  }
}

const SECURITY_PANEL = 'Alexa.SecurityPanelController';
const AUTHORIZATION = 'Alexa.Authorization';
const general = (type: string) => () => ({ type });

/**
 * The core's codes as Alexa error types, in one table
 * (https://developer.amazon.com/docs/device-apis/alexa-errorresponse.html).
 * INVALID_AUTHORIZATION_CREDENTIAL and EXPIRED_AUTHORIZATION_CREDENTIAL make
 * Alexa unlink the user: they come only from the token check (smart-home.ts),
 * never from here, so no outage can answer them.
 */
const TABLE: Partial<Record<ErrorCode, (namespace: string) => { type: string; namespace?: string; extra?: Record<string, unknown> }>> = {
  DEVICE_NOT_FOUND: general('NO_SUCH_ENDPOINT'),
  SCENE_NOT_FOUND: general('NO_SUCH_ENDPOINT'),
  DEVICE_OFFLINE: general('ENDPOINT_UNREACHABLE'),
  // The command expires with the wait (smart-home-commands.ts), so "unreachable" is what happened.
  COMMAND_TIMEOUT: general('ENDPOINT_UNREACHABLE'),
  VALIDATION_FAILED: general('INVALID_VALUE'),
  // Not in the tenant's voice policy, critical (never by voice), or a viewer's account.
  POLICY_DENIED: general('INSUFFICIENT_PERMISSIONS'),
  // The security panel has types of its own; elsewhere Alexa carries no PIN of ours (Unlock: its own voice code).
  // An Unlock the tenant did not open to Alexa's voice code is INSUFFICIENT_PERMISSIONS: the lock is there and
  // works (not NO_SUCH_ENDPOINT, ENDPOINT_UNREACHABLE), the directive is well formed (not INVALID_DIRECTIVE) and
  // no device mode is at fault (NOT_SUPPORTED_IN_CURRENT_MODE): Gatehouse is not permitted to do it for Alexa.
  PIN_REQUIRED: (ns) => (ns === SECURITY_PANEL ? { namespace: SECURITY_PANEL, type: 'AUTHORIZATION_REQUIRED' } : { type: 'INSUFFICIENT_PERMISSIONS' }),
  PIN_INVALID: (ns) => (ns === SECURITY_PANEL ? { namespace: SECURITY_PANEL, type: 'UNAUTHORIZED' } : { type: 'INSUFFICIENT_PERMISSIONS' }),
  PIN_LOCKED: general('TOO_MANY_FAILED_ATTEMPTS'),
  CONFIRMATION_REQUIRED: general('INSUFFICIENT_PERMISSIONS'),
  RATE_LIMITED: general('RATE_LIMIT_EXCEEDED'),
  TENANT_FORBIDDEN: general('INSUFFICIENT_PERMISSIONS'),
};

/** Any failure as an Alexa error; what the table does not name is ours: INTERNAL_ERROR. */
export function alexaErrorFor(error: unknown, directive: Directive['directive']): AlexaErrorSpec {
  // AcceptGrant has one error of its own, whatever failed (the code, LWA, storing the tokens):
  // https://developer.amazon.com/docs/device-apis/alexa-authorization.html#acceptgrant-error-response
  if (directive.header.namespace === AUTHORIZATION) {
    return { namespace: AUTHORIZATION, type: 'ACCEPT_GRANT_FAILED', message: error instanceof Error ? error.message : 'AcceptGrant failed.' };
  }
  if (error instanceof AlexaError) return { type: error.type, namespace: error.namespace, message: error.message, extra: error.extra };
  const mapped = isGatewayError(error) ? TABLE[error.code]?.(directive.header.namespace) : undefined;
  if (!mapped || !isGatewayError(error)) return { type: 'INTERNAL_ERROR', message: 'Gatehouse could not handle this directive.' };
  return { ...mapped, message: error.message };
}

/** What a finished command that did not succeed answers (the device said no, the TTL ran out, a person denied it). */
export function alexaErrorForStatus(status: string, detail: string): AlexaError {
  if (status === 'failed') return new AlexaError('HARDWARE_MALFUNCTION', `The device reported a failure: ${detail}`);
  if (status === 'expired' || status === 'pending' || status === 'delivered') return new AlexaError('ENDPOINT_UNREACHABLE', 'The device did not answer in time.');
  // awaiting_approval: the tenant put this device's command under approval; the request went to the approvers' phones
  // and Smart Home has no "pending" answer, so Alexa hears that it was not done. denied: a person said no.
  return new AlexaError('INSUFFICIENT_PERMISSIONS', `The command is ${status.replace('_', ' ')}.`);
}
