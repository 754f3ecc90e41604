/**
 * Whether a string can reach Postgres as the text it claims to be.
 *
 * Postgres refuses U+0000 in `text` and `jsonb` (SQLSTATE 22021 / 22P05), and
 * one such value fails the whole statement, batched neighbours included. A
 * lone surrogate cannot be encoded as UTF-8 at all: node-postgres would send
 * U+FFFD in its place, silently storing something else. U+FFFD itself is what
 * every decoder on the way in (JSON and form bodies, MQTT strings) puts where
 * the bytes were not valid UTF-8; once decoded, that is the only trace left,
 * so it is refused too. No legitimate name, email, token or password needs it.
 *
 * It lives in src/auth because the credential lookup needs it and the HTTP
 * edge may import auth; it imports nothing.
 */
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this looks for.
const UNSTORABLE = /[\u0000\uFFFD]|\p{Cs}/u;

/** Why the value cannot be stored as given, or undefined when it can. */
export function unstorableReason(value: string): string | undefined {
  const match = UNSTORABLE.exec(value);
  if (!match) return undefined;
  const char = match[0];
  if (char === '\u0000') return 'must not contain U+0000 (NUL)';
  if (char === '\uFFFD') return 'must be valid UTF-8 (it holds U+FFFD, the mark of bytes that were not)';
  return 'must be valid Unicode (it holds a lone surrogate)';
}
