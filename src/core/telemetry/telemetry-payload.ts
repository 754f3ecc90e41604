import { isUtf8 } from 'node:buffer';

/** A JSON text kept as received (Postgres parses it into jsonb), or the bytes as they came. */
export type TelemetryPayload = string | Buffer;
export type PayloadVerdict = { ok: true; payload: TelemetryPayload } | { ok: false; reason: 'too_large' };

/**
 * Escapes jsonb refuses although JSON allows them: \u0000 and a surrogate
 * without its pair. Such a text is kept as bytes rather than failing its batch.
 */
const JSONB_REFUSES = /\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/;

/**
 * Deeper than this, Postgres's recursive JSON parser may run out of stack and fail the whole batch (it took
 * 5 000 levels and refused 20 000 at the default max_stack_depth). A text shorter than twice it cannot be deeper.
 */
const MAX_JSON_DEPTH = 4096;

/**
 * Any payload under the size limit is telemetry (devices send CBOR,
 * protobuf, plain numbers and text as often as JSON): a JSON value (object,
 * array, number, string, true, false, null) in well-formed UTF-8 is stored as
 * jsonb, anything else as its bytes.
 */
export function checkTelemetryPayload(payload: Buffer, maxBytes: number): PayloadVerdict {
  if (payload.length > maxBytes) return { ok: false, reason: 'too_large' };
  return { ok: true, payload: jsonText(payload) ?? payload };
}

function jsonText(payload: Buffer): string | undefined {
  if (payload.length === 0 || !isUtf8(payload)) return undefined;
  const text = payload.toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  if (text.includes('\\u') && JSONB_REFUSES.test(text)) return undefined;
  if (text.length > 2 * MAX_JSON_DEPTH && nestingDepth(text) > MAX_JSON_DEPTH) return undefined;
  return text;
}

/** An upper bound of the nesting depth (brackets inside strings count too: erring towards bytes is safe). */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** A state report must stay one JSON object: it is merged field by field into the device's state. */
export function stateObject(payload: TelemetryPayload): string | undefined {
  if (typeof payload !== 'string') return undefined;
  const first = payload.trimStart()[0];
  return first === '{' ? payload : undefined;
}
