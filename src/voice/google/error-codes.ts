import type { ErrorCode, GatewayError } from '../../core/errors.js';

/** One command's outcome as Google reads it (EXECUTE `commands[]`, QUERY `devices{}`). */
export type GoogleOutcome =
  | { status: 'SUCCESS' | 'PENDING' }
  | { status: 'OFFLINE' | 'ERROR'; errorCode: string; challengeNeeded?: { type: Challenge } };

type Challenge = 'pinNeeded' | 'challengeFailedPinNeeded' | 'ackNeeded';

const error = (errorCode: string): GoogleOutcome => ({ status: 'ERROR', errorCode });
const challenge = (type: Challenge): GoogleOutcome => ({ status: 'ERROR', errorCode: 'challengeNeeded', challengeNeeded: { type } });

/**
 * The core's error codes as Google's errorCode values, in one table
 * (https://developers.home.google.com/cloud-to-cloud/intents/errors-exceptions,
 * two-factor: https://developers.home.google.com/cloud-to-cloud/enhancements/secondary-user-verification).
 * Whatever is not listed is Google's transientError: try again.
 */
const TABLE: Partial<Record<ErrorCode, (error: GatewayError) => GoogleOutcome>> = {
  DEVICE_NOT_FOUND: () => error('deviceNotFound'),
  DEVICE_OFFLINE: () => ({ status: 'OFFLINE', errorCode: 'deviceOffline' }),
  // The command stays pending and its result comes later.
  COMMAND_TIMEOUT: () => ({ status: 'PENDING' }),
  VALIDATION_FAILED: () => error('valueOutOfRange'),
  // Not enabled for Google in the tenant's voice policy, critical, or no capability takes it.
  POLICY_DENIED: () => error('notSupported'),
  PIN_REQUIRED: (e) => (e.details.pinSet === false ? error('challengeFailedNotSetup') : challenge('pinNeeded')),
  PIN_INVALID: () => challenge('challengeFailedPinNeeded'),
  PIN_LOCKED: () => error('tooManyFailedAttempts'),
  // The tenant's requiresAck for Google (the voice rule); any other confirmation is not Google's to give.
  CONFIRMATION_REQUIRED: (e) => (e.details.ack === true ? challenge('ackNeeded') : error('notSupported')),
};

export function googleOutcome(e: GatewayError): GoogleOutcome {
  return TABLE[e.code]?.(e) ?? error('transientError');
}
