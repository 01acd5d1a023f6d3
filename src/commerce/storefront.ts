import { cursorTimeSql, decodeCursor as decodeTimeCursor, keysetPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import { escapeLike, type Db } from '../infra/db';
import { ORDER_ITEM_COLUMNS, orderItemJson, SUMMARY_COLUMNS, summaryJson, type OrderItemRow, type SummaryRow } from './orderViews';

/**
 * What shoppers read to find a store and their own orders (API.md, "Storefront reads shoppers need"). Every
 * store is public (stores have no hidden state), so a store is shown to anyone; its owner id is not, since a
 * shopper has no use for it. A shopper's order list holds only orders placed signed in as that shopper.
 */

interface StorefrontRow {
  id: string;
  name: string;
  slug: string;
  currency: string;
  created_at: Date;
  product_count: string | number;
}

/** Below this word similarity a store name is not a near-miss of the query (as for product names). */
const WORD_SIMILARITY_MIN = 0.3;

const invalidCursor = () => refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);

const STORE_COLUMNS = ['id', 'name', 'slug', 'currency', 'created_at'];

/** The store columns of `alias` and its count of active products (drafts and archived ones are not on the storefront). */
function storefrontColumns(db: Db, alias = 's') {
  return [
    ...STORE_COLUMNS.map((c) => `${alias}.${c}`),
    db.raw(`(SELECT count(*) FROM products p WHERE p.store_id = ${alias}.id AND p.status = 'active') AS product_count`),
  ];
}

const storefrontJson = (s: StorefrontRow) => ({
  id: s.id,
  name: s.name,
  slug: s.slug,
  currency: s.currency,
  product_count: Number(s.product_count),
  created_at: s.created_at.toISOString(),
});
export type StorefrontStore = ReturnType<typeof storefrontJson>;

/** One store by id or by slug; not_found when there is none. */
export async function storefrontStore(db: Db, by: { id: string } | { slug: string }): Promise<StorefrontStore> {
  const where = 'id' in by ? { 's.id': by.id } : { 's.slug': by.slug };
  const row = (await db('stores as s').where(where).first(storefrontColumns(db))) as StorefrontRow | undefined;
  if (!row) throw refusals.notFound('store');
  return storefrontJson(row);
}

// Search pages are keyed by rank (fixed decimals, so it compares exactly after the round trip) and id.
const RANK = /^\d{1,3}\.\d{6}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const encodeRankCursor = (rank: string, id: string) => Buffer.from(JSON.stringify(['r', rank, id])).toString('base64url');
function decodeRankCursor(cursor: string): { rank: string; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3) {
      const [kind, rank, id] = value as unknown[];
      if (kind === 'r' && typeof rank === 'string' && RANK.test(rank) && typeof id === 'string' && UUID.test(id)) return { rank, id };
    }
  } catch {
    // not base64url JSON: not a cursor
  }
  throw invalidCursor();
}

const likePattern = (q: string) => `%${escapeLike(q)}%`;

/**
 * A page of stores. Without `q`: newest first, keyset over (created_at, id). With `q`: stores whose name contains
 * it, or is a near-miss spelling of it (trigram similarity), or whose slug is it; best match first, keyset over
 * (rank, id). Pages never skip or repeat a store, whatever is added meanwhile.
 */
export async function listStorefrontStores(db: Db, query: { q?: string; limit: number; cursor?: string }): Promise<{ data: StorefrontStore[]; next_cursor: string | null }> {
  if (query.q === undefined) {
    const q = db('stores as s').select(storefrontColumns(db)).select(db.raw(`${cursorTimeSql('s.created_at')} AS cursor_time`));
    if (query.cursor) {
      const after = decodeTimeCursor(query.cursor);
      if (!after) throw invalidCursor();
      q.whereRaw('(s.created_at, s.id) < (?::timestamptz, ?::uuid)', [after.time, after.id]);
    }
    const rows = (await q.orderBy([{ column: 's.created_at', order: 'desc' }, { column: 's.id', order: 'desc' }]).limit(query.limit + 1)) as Array<
      StorefrontRow & { cursor_time: string }
    >;
    const page = keysetPage(rows, query.limit);
    return { data: page.rows.map(storefrontJson), next_cursor: page.nextCursor };
  }

  const text = query.q;
  // ILIKE, % and <% are all served by the trigram index on name. `<%` (a word of the name is a near-miss of q)
  // uses the session's threshold, set for this transaction only to the one product search uses. The planner prices
  // the trigram operators as cheap and picks a sequential scan even for a handful of matches (100,000 stores: 4.6 s
  // instead of 0.1 s with the index, see notes), so sequential scans are ruled out for this one read.
  return db.transaction(async (trx) => {
    await trx.raw(`SET LOCAL pg_trgm.word_similarity_threshold = ${WORD_SIMILARITY_MIN}`);
    await trx.raw('SET LOCAL enable_seqscan = off');
    return searchPage(trx, text, query);
  });
}

async function searchPage(db: Db, text: string, query: { limit: number; cursor?: string }): Promise<{ data: StorefrontStore[]; next_cursor: string | null }> {
  // Similarities are at most 1, so the store whose slug is the query (2) comes first.
  const matches = db('stores as s')
    .whereRaw(`(s.name ILIKE ? OR s.name % ? OR ? <% s.name OR s.slug = lower(?))`, [likePattern(text), text, text, text])
    .select(STORE_COLUMNS.map((c) => `s.${c}`))
    .select(
      db.raw(
        `round(greatest(similarity(s.name, ?), word_similarity(?, s.name), CASE WHEN s.slug = lower(?) THEN 2 ELSE 0 END)::numeric, 6)::text AS rank`,
        [text, text, text],
      ),
    );
  const ranked = db.select('*').from(matches.as('ranked'));
  if (query.cursor) {
    const after = decodeRankCursor(query.cursor);
    ranked.whereRaw('(rank::numeric < ?::numeric OR (rank::numeric = ?::numeric AND id > ?::uuid))', [after.rank, after.rank, after.id]);
  }
  ranked.orderByRaw('rank::numeric DESC, id ASC').limit(query.limit + 1);
  // Products are counted for the page only, not for every match.
  const rows = (await db
    .select([...storefrontColumns(db, 'page'), 'page.rank'])
    .from(ranked.as('page'))
    .orderByRaw('page.rank::numeric DESC, page.id ASC')) as Array<StorefrontRow & { rank: string }>;
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return { data: page.map(storefrontJson), next_cursor: rows.length > query.limit && last ? encodeRankCursor(last.rank, last.id) : null };
}

/**
 * The caller's orders, newest first, keyset over (created_at, id): each with its items, status and totals, and the
 * store it was bought from. Only orders whose customer is the caller; guest orders belong to nobody's list.
 */
export async function listMyOrders(db: Db, caller: Principal, query: { limit: number; cursor?: string }) {
  const q = db('orders as o')
    .join('stores as s', 's.id', 'o.store_id')
    .where('o.customer_id', caller.id)
    .select(SUMMARY_COLUMNS.map((c) => `o.${c}`))
    .select('s.name as store_name', 's.slug as store_slug', db.raw(`${cursorTimeSql('o.created_at')} AS cursor_time`));
  if (query.cursor) {
    const after = decodeTimeCursor(query.cursor);
    if (!after) throw invalidCursor();
    q.whereRaw('(o.created_at, o.id) < (?::timestamptz, ?::uuid)', [after.time, after.id]);
  }
  const rows = (await q.orderBy([{ column: 'o.created_at', order: 'desc' }, { column: 'o.id', order: 'desc' }]).limit(query.limit + 1)) as Array<
    SummaryRow & { store_name: string; store_slug: string; cursor_time: string }
  >;
  const page = keysetPage(rows, query.limit);
  const items = page.rows.length
    ? ((await db('order_items').whereIn('order_id', page.rows.map((o) => o.id)).orderBy('id').select('order_id', ...ORDER_ITEM_COLUMNS)) as Array<OrderItemRow & { order_id: string }>)
    : [];
  const itemsOf = new Map<string, ReturnType<typeof orderItemJson>[]>();
  for (const { order_id, ...item } of items) {
    const list = itemsOf.get(order_id) ?? [];
    list.push(orderItemJson(item));
    itemsOf.set(order_id, list);
  }
  return {
    data: page.rows.map((o) => ({
      ...summaryJson(o),
      store: { id: o.store_id, name: o.store_name, slug: o.store_slug },
      items: itemsOf.get(o.id) ?? [],
    })),
    next_cursor: page.nextCursor,
  };
}
