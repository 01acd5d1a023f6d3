import { newestFirstPage } from '../campaigns/keysetCursor';
import type { Db } from '../infra/db';
import { DROP_COLUMNS, dropFromRow, dropJson } from './repository';

/**
 * A store's drops for its owner's admin, newest first, keyset over (created_at, id). The caller passes a store
 * the principal manages. Lottery drops not drawn yet carry their live entry count, as GET /v1/drops/{id} does.
 */
export async function listStoreDrops(db: Db, storeId: string, query: { limit: number; cursor?: string }) {
  const q = db('drops as d')
    .where('d.store_id', storeId)
    .select(DROP_COLUMNS.map((c) => `d.${c}`))
    .select(db.raw(`CASE WHEN d.mode = 'lottery' AND d.entries_count IS NULL THEN (SELECT count(*) FROM drop_entries e WHERE e.drop_id = d.id) END AS live_entries`));
  const page = await newestFirstPage<Record<string, unknown> & { id: string; live_entries: string | null }>(db, q, { time: 'd.created_at', id: 'd.id' }, query);
  return {
    data: page.rows.map(({ live_entries, ...row }) => dropJson(dropFromRow(row), live_entries === null ? undefined : Number(live_entries))),
    next_cursor: page.nextCursor,
  };
}
