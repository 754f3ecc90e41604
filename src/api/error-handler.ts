import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDataException } from '../db/pg-errors.js';
import { ERROR_CODES, isGatewayError, type ErrorCode } from '../core/errors.js';
import { HTTP_STATUS } from './http-status.js';

export type ErrorBody = { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details && Object.keys(details).length > 0 ? { details } : {}) } };
}

/** Fastify's own failures (parsing, limits) in our error vocabulary. */
function fromFastify(error: FastifyError): { status: number; code: ErrorCode; message: string } {
  if (error.validation) return { status: 400, code: 'VALIDATION_FAILED', message: `Invalid request: ${error.message}` };
  // The edge checks (edge-input.ts) should have caught it; if a value still made Postgres refuse the statement, it is the request's fault, not a 500.
  if (isDataException(error)) return { status: 400, code: 'VALIDATION_FAILED', message: `Invalid request: a value cannot be stored (SQLSTATE ${error.code}).` };
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the limit.' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'BAD_REQUEST', message: `Unsupported content type: ${error.message}` };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'BAD_REQUEST', message: 'The body is empty but the content type says JSON.' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'BAD_REQUEST', message: `The body is not valid JSON: ${error.message}` };
  }
  if (error instanceof SyntaxError) return { status: 400, code: 'BAD_REQUEST', message: `The body is not valid JSON: ${error.message}` };
  if (error.statusCode && error.statusCode < 500) return { status: error.statusCode, code: 'BAD_REQUEST', message: error.message };
  return { status: 500, code: 'INTERNAL', message: ERROR_CODES.INTERNAL };
}

/** Every failure, 404 included, answers `{ error: { code, message } }`. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isGatewayError(error)) {
      const status = HTTP_STATUS[error.code];
      if (status >= 500) request.log.error({ err: error }, error.message);
      return reply.status(status).send(errorBody(error.code, error.message, error.details));
    }
    const mapped = fromFastify(error);
    if (isDataException(error)) request.log.warn({ err: error }, 'a request value reached Postgres unchecked');
    if (mapped.status >= 500) request.log.error({ err: error }, 'unhandled error');
    return reply.status(mapped.status).send(errorBody(mapped.code, mapped.message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}

/**
 * What fastify's router answers before any route or hook runs (its own
 * default writes `{ error, code, message, statusCode }`): a path segment that
 * is not valid percent-encoded UTF-8, or longer than maxParamLength.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      reply.status(400).send(errorBody('BAD_REQUEST', 'Invalid request: the URL path is not valid percent-encoded UTF-8.'));
      return;
    case 'FST_ERR_MAX_PARAM_LENGTH':
      reply.status(414).send(errorBody('BAD_REQUEST', 'A segment of the URL path is longer than any identifier the API uses.'));
      return;
  }
  reply.log.error({ err: error }, 'router failure');
  reply.status(500).send(errorBody('INTERNAL', ERROR_CODES.INTERNAL));
}
