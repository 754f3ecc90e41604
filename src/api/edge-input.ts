import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { unstorableReason } from '../auth/storable-text.js';
import { GatewayError } from '../core/errors.js';
import { errorBody } from './error-handler.js';

/** Longest URL served; a longer one is answered 414 (node's own 16 KiB head limit catches what is longer still). */
export const MAX_URL_CHARS = 8192;
/** Ceiling for any one string in a query, path or body that its schema does not cap tighter. */
export const MAX_STRING_CHARS = 8192;
/** Request headers whose values the API uses as data, with their caps (a tenant is a slug or a UUID). */
const HEADERS_READ: Record<string, number> = { 'x-active-tenant': 256 };

function problemWith(value: string, cap: number): string | undefined {
  if (value.length > cap) return `must be at most ${cap} characters`;
  return unstorableReason(value);
}

/**
 * The first string, object key included, that is too long or cannot be stored
 * as text, named by its path ("body/params/label"). Iterative: a deeply nested
 * body must not be able to overflow the stack.
 */
export function firstBadString(root: unknown, where: string, cap = MAX_STRING_CHARS): string | undefined {
  const stack: [unknown, string][] = [[root, where]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = problemWith(value, cap);
      if (problem) return `${path} ${problem}`;
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, `${path}/${index}`]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const problem = problemWith(key, cap);
        if (problem) return `a property name in ${path} ${problem}`;
        stack.push([item, `${path}/${key}`]);
      }
    }
  }
  return undefined;
}

/**
 * The query's percent-escapes must decode as UTF-8. The query parser keeps an
 * undecodable escape as literal text (`%C3%28` stays "%C3%28"), which would
 * then be looked up or stored as if the client had meant it; refusing it is
 * the only honest answer (RFC 3986 §2.5: characters are UTF-8 octets).
 */
function undecodableQueryParameter(url: string): string | undefined {
  const start = url.indexOf('?');
  if (start < 0) return undefined;
  for (const pair of url.slice(start + 1).split('&')) {
    try {
      decodeURIComponent(pair);
    } catch {
      const name = pair.split('=')[0]!;
      return /^[\w.-]{1,64}$/.test(name) ? `querystring/${name}` : 'a query parameter';
    }
  }
  return undefined;
}

async function checkUrl(request: FastifyRequest, reply: FastifyReply) {
  if (request.url.length > MAX_URL_CHARS) {
    return reply.status(414).send(errorBody('BAD_REQUEST', `The URL is ${request.url.length} characters long; at most ${MAX_URL_CHARS} are read.`));
  }
  const undecodable = undecodableQueryParameter(request.url);
  if (undecodable) throw new GatewayError('BAD_REQUEST', `Invalid request: ${undecodable} is not valid percent-encoded UTF-8.`);
  return undefined;
}

async function checkStrings(request: FastifyRequest) {
  const problem = firstBadString(request.params, 'params') ?? firstBadString(request.query, 'querystring') ?? firstBadString(request.body, 'body')
    ?? Object.entries(HEADERS_READ).map(([name, cap]) => firstBadString(request.headers[name], `headers/${name}`, cap)).find(Boolean);
  if (problem) throw new GatewayError('VALIDATION_FAILED', `Invalid request: ${problem}.`);
}

/**
 * Every route's input is checked once, here, before its schema and handler:
 * no string that Postgres would refuse (U+0000 fails the statement, a 500
 * before this) or store as something else (invalid UTF-8, lone surrogates),
 * and none longer than MAX_STRING_CHARS. Register before the routes: hooks
 * reach only the plugins registered after them.
 */
export function installInputChecks(app: FastifyInstance): void {
  app.addHook('onRequest', checkUrl);
  app.addHook('preValidation', checkStrings);
}
