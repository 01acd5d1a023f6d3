/**
 * Opaque keyset cursors over (created_at, id) for the campaign and pledge lists. The timestamp travels as
 * Postgres printed it: a JS Date would round it to milliseconds and skip or repeat rows.
 */

/** SQL for a row's cursor time, to select as `cursor_time` beside the row. */
export const cursorTimeSql = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface CursorPosition {
  time: string;
  id: string;
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(p: CursorPosition): string {
  return Buffer.from(JSON.stringify([p.time, p.id])).toString('base64url');
}

/** The position, or undefined when the string is not a cursor these lists return (each list refuses it its own way). */
export function decodeCursor(cursor: string): CursorPosition | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [time, id] = value as unknown[];
      if (typeof time === 'string' && CURSOR_TIME.test(time) && !Number.isNaN(Date.parse(time)) && typeof id === 'string' && UUID.test(id)) {
        return { time, id };
      }
    }
  } catch {
    // not base64url JSON: not a cursor
  }
  return undefined;
}

/** A page from `limit + 1` rows: the extra row only tells that there is a next page, whose cursor is the last kept row. */
export function keysetPage<T extends { cursor_time: string; id: string }>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1];
  return { rows: kept, nextCursor: rows.length > limit && last ? encodeCursor({ time: last.cursor_time, id: last.id }) : null };
}
