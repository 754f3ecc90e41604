import { GatewayError } from '../../core/errors.js';

/** Why a custom-skill request was refused before it was read (docs/errors.md, SKILL_REQUEST_REFUSED). */
export type RefusalReason =
  | 'CERT_URL_INVALID' | 'CERT_CHAIN_INVALID' | 'SIGNATURE_INVALID' | 'TIMESTAMP_OUT_OF_WINDOW'
  | 'REQUEST_REPLAYED' | 'SKILL_NOT_ALLOWED' | 'MALFORMED';

export const refused = (reason: RefusalReason, message: string): GatewayError =>
  new GatewayError('SKILL_REQUEST_REFUSED', message, { reason });

export const reasonOf = (error: unknown): RefusalReason | undefined =>
  error instanceof GatewayError && error.code === 'SKILL_REQUEST_REFUSED' ? (error.details.reason as RefusalReason) : undefined;
