import { Type } from '@fastify/type-provider-typebox';
import { ERROR_CODES, GatewayError } from '../core/errors.js';

/** The error body every failure answers with. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(Object.keys(ERROR_CODES).map((code) => Type.Literal(code))),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every failure: a stable code (docs/errors.md) and what was wrong.' },
);

/** What every token grant answers (RFC 6749 §5.1). */
export const TokenPair = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token lives.' }),
}, { $id: 'TokenPair' });

/** A device's name as it appears in paths (src/core/devices/device-name.ts). */
export const DeviceName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' });

/** A timestamp: the core hands out Dates, the serializer writes ISO 8601. */
export const DateTime = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });
export const NullableDateTime = Type.Unsafe<Date | null>({ type: ['string', 'null'], format: 'date-time' });

/** A time in a query string: ISO 8601, or VALIDATION_FAILED naming the parameter. */
export function queryDate(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw new GatewayError('VALIDATION_FAILED', `${name} must be an ISO 8601 date-time.`, { parameter: name });
  return parsed;
}
