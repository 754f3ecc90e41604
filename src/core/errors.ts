/**
 * The one error type of Gatehouse. Every failure the core reports carries a
 * stable code from this table; each adapter translates codes once (api → HTTP
 * status, broker → MQTT return code, voice → platform error). docs/errors.md
 * documents every code and is checked against this table by a test.
 */
export const ERROR_CODES = {
  // Input
  VALIDATION_FAILED: 'The request or message did not match its schema.',
  BAD_REQUEST: 'The request could not be read (malformed body, wrong content type).',
  PAYLOAD_TOO_LARGE: 'The body or payload is larger than the configured limit.',
  NOT_FOUND: 'No such route or resource.',
  CONFLICT: 'The resource already exists.',
  // Identity
  UNAUTHENTICATED: 'No credentials, or credentials that do not identify anyone.',
  INVALID_CREDENTIALS: 'The username, password, secret or client credentials are wrong.',
  TOKEN_INVALID: 'The token is malformed, forged, signed with an unknown key or an unexpected algorithm.',
  TOKEN_EXPIRED: 'The token has expired or is not yet valid.',
  TOKEN_REVOKED: 'The token or its session was revoked.',
  ACCOUNT_SUSPENDED: 'The user, device or credential is suspended or revoked.',
  RATE_LIMITED: 'Too many attempts or messages; retry later.',
  OAUTH_CLIENT_INVALID: 'The OAuth client is unknown or its secret is wrong (OAuth invalid_client).',
  OAUTH_GRANT_INVALID: 'The authorization code or refresh token is unknown, used, expired or not for this client (OAuth invalid_grant).',
  OAUTH_REQUEST_INVALID: 'The OAuth request lacks or misuses a parameter (OAuth invalid_request).',
  REDIRECT_URI_INVALID: 'The redirect URI is not on the client\'s allowlist; nothing is redirected.',
  // Tenancy and policy
  TENANT_REQUIRED: 'No tenant could be resolved for the request: fail closed.',
  TENANT_FORBIDDEN: 'The caller is not a member of the requested tenant.',
  TENANT_NOT_FOUND: 'No such tenant.',
  POLICY_DENIED: 'The channel, role or scope of the caller does not allow this action.',
  DEVICE_NOT_FOUND: 'No such device, or no access to it.',
  USER_NOT_FOUND: 'No such user, or no access to it.',
  APP_NOT_FOUND: 'No such app credential, or no access to it.',
  INVITATION_NOT_FOUND: 'No such open invitation, or no access to it.',
  SCENE_NOT_FOUND: 'No such scene, or no access to it.',
  AUTOMATION_NOT_FOUND: 'No such automation, or no access to it.',
  ROLE_ABOVE_OWN: 'No one may grant a role above their own, nor change a member whose role is above their own.',
  LAST_OWNER: 'The tenant\'s last owner cannot be demoted or removed.',
  INVITATION_INVALID: 'The invitation link was already used, revoked, has expired, or never existed.',
  DEVICE_TOPIC_VIOLATION: 'A device or credential used a topic outside its ACL.',
  // Voice safety
  PIN_REQUIRED: 'The capability requires the user\'s voice PIN.',
  PIN_INVALID: 'The voice PIN is wrong.',
  PIN_LOCKED: 'Too many wrong PINs; the capability is locked for a while.',
  CONFIRMATION_REQUIRED: 'A sensitive command from web or mobile must carry an explicit confirmation ("confirm": true).',
  // Commands
  DEVICE_OFFLINE: 'The device is not connected, so a command waiting for its result cannot be answered in time.',
  COMMAND_TIMEOUT: 'The device did not finish the command within the caller\'s wait; the command stays pending.',
  // Voice webhooks (checked before the request is read)
  REQUEST_SIGNATURE_INVALID: 'The webhook request is unsigned, names an unknown skill, or its signature does not match its body.',
  REQUEST_STALE: 'The webhook request\'s timestamp is more than 150 s away from the gateway\'s clock, either way.',
  REQUEST_REPLAYED: 'The same signed webhook request was already received within its validity window.',
  SKILL_REQUEST_REFUSED: 'An Alexa custom-skill request failed verification (certificate URL or chain, signature, timestamp, replay, skill id); details.reason says which.',
  // Infrastructure
  DATABASE_UNAVAILABLE: 'PostgreSQL cannot be reached or is not migrated.',
  PORT_IN_USE: 'A configured port is already taken by another process.',
  CONFIG_INVALID: 'A configuration value is missing or malformed.',
  INTERNAL: 'An unexpected failure; the details are in the server log.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code],
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

export function hasCode(error: unknown, code: ErrorCode): error is GatewayError {
  return isGatewayError(error) && error.code === code;
}
