export type PayloadVerdict = { ok: true; json: string } | { ok: false; reason: 'too_large' | 'not_json' | 'not_object' };

/**
 * Telemetry must be one JSON object under the size limit. The text is kept as
 * received (Postgres parses it into jsonb); only its shape is checked here.
 */
export function checkTelemetryPayload(payload: Buffer, maxBytes: number): PayloadVerdict {
  if (payload.length > maxBytes) return { ok: false, reason: 'too_large' };
  const text = payload.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not_object' };
  // Postgres jsonb refuses \u0000 in strings; refuse it here rather than fail a whole batch.
  if (text.includes('\\u0000')) return { ok: false, reason: 'not_json' };
  return { ok: true, json: text };
}
