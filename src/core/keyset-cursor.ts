import { GatewayError } from './errors.js';

/**
 * The opaque `next` of a newest-first page: the (time, id) of its last row,
 * from which the next page continues (keyset paging: no OFFSET, stable while
 * rows arrive). `at` is Postgres's own text of the timestamp, microseconds
 * kept, so the comparison is exact.
 */
export function encodeCursor(at: string, id: string): string {
  return Buffer.from(`${at}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { at: string; id: string } {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!at || !id || extra !== undefined || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new GatewayError('VALIDATION_FAILED', 'The cursor is not one this API gave out.');
  }
  return { at, id };
}

/** The SQL that renders a timestamptz column as the cursor's `at`. */
export const CURSOR_AT = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Rows to ask for: the page's size, clamped to 1..max, and one more to learn whether a next page exists. */
export function rowsToFetch(requested: number | undefined, max: number): { limit: number; fetch: number } {
  const limit = Math.min(Math.max(requested ?? 100, 1), max);
  return { limit, fetch: limit + 1 };
}

/** A page of the rows fetched (`limit + 1` asked for): the items without their cursor column, and `next` if more exist. */
export function pageOf<T extends { at: string; id: string }>(rows: T[], limit: number): { items: Omit<T, 'at'>[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map(({ at: _at, ...item }) => item),
    next: rows.length > limit && last ? encodeCursor(last.at, last.id) : null,
  };
}
