import type { ConnectionError } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorBody } from './error-handler.js';

/**
 * Node's parser gives up on the head as a whole (16 KiB, HPE_HEADER_OVERFLOW)
 * and does not say whether the request line or the headers took the room.
 * When the chunk it choked on starts a request line and holds no line end,
 * the URL alone is too long: 414. Otherwise, or when the URL arrived over
 * several chunks and cannot be told apart from a header, 431.
 */
function overflowStatus(error: ConnectionError): 414 | 431 {
  // Node hands the chunk over as a Buffer; fastify's types describe its JSON form.
  const chunk: unknown = error.rawPacket;
  if (!Buffer.isBuffer(chunk)) return 431;
  return /^[A-Z]+ \S/.test(chunk.subarray(0, 16).toString('latin1')) && !chunk.includes('\r\n') ? 414 : 431;
}

function answerFor(error: ConnectionError): [number, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return overflowStatus(error) === 414
        ? [414, 'The URL is longer than the server reads (16 KiB for the whole request head).']
        : [431, 'The request headers are larger than the server reads (16 KiB for the whole request head).'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'The request did not arrive in time.'];
    default:
      return [400, `The request is not valid HTTP/1.1 (${error.code ?? 'unreadable'}).`];
  }
}

/**
 * What node's HTTP server answers on the raw socket, before there is a
 * request for fastify to handle (fastify's default writes its own shape):
 * the same `{ error: { code, message } }` as every other failure. All of them
 * are about the request's form, hence BAD_REQUEST with the status HTTP has
 * for the case.
 */
export function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  // A reset connection has no one to answer (https://nodejs.org/api/http.html#event-clienterror).
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = answerFor(error);
  if (socket.writable) {
    const body = JSON.stringify(errorBody('BAD_REQUEST', message));
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
