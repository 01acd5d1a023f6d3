import type { Knex } from 'knex';
import { refusals } from '../domain/errors';

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

/**
 * One page of a list newest first, keyset over (time, id) with the opaque cursors of src/campaigns/keysetCursor.ts:
 * `q` selects the rows; this adds the cursor time, the position after the cursor, the order and the limit.
 * A cursor these lists did not hand out is a 400 naming `query.cursor`.
 */
export async function newestFirstPage<T extends { id: string }>(
  db: Knex,
  q: Knex.QueryBuilder,
  columns: { time: string; id: string },
  page: { limit: number; cursor?: string },
): Promise<{ rows: T[]; nextCursor: string | null }> {
  q.select(db.raw(`${cursorTimeSql(columns.time)} AS cursor_time`));
  if (page.cursor) {
    const after = decodeCursor(page.cursor);
    if (!after) throw refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
    q.whereRaw(`(${columns.time}, ${columns.id}) < (?::timestamptz, ?::uuid)`, [after.time, after.id]);
  }
  const rows = (await q.orderBy([{ column: columns.time, order: 'desc' }, { column: columns.id, order: 'desc' }]).limit(page.limit + 1)) as Array<T & { cursor_time: string }>;
  const { rows: kept, nextCursor } = keysetPage(rows, page.limit);
  return { rows: kept.map(({ cursor_time: _time, ...row }) => row as unknown as T), nextCursor };
}
