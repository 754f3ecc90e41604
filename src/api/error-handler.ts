import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, isGatewayError, type ErrorCode } from '../core/errors.js';
import { HTTP_STATUS } from './http-status.js';

export type ErrorBody = { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

function body(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details && Object.keys(details).length > 0 ? { details } : {}) } };
}

/** Fastify's own failures (parsing, limits) in our error vocabulary. */
function fromFastify(error: FastifyError): { status: number; code: ErrorCode; message: string } {
  if (error.validation) return { status: 400, code: 'VALIDATION_FAILED', message: `Invalid request: ${error.message}` };
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
      return reply.status(status).send(body(error.code, error.message, error.details));
    }
    const mapped = fromFastify(error);
    if (mapped.status >= 500) request.log.error({ err: error }, 'unhandled error');
    return reply.status(mapped.status).send(body(mapped.code, mapped.message));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`));
  });
}
