import { newestFirstPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { storeJson, type StoreRow } from './catalog';

/**
 * What a merchant reads to run their stores (the store admin): their own stores, and one store's stock per
 * variant (total, reserved, sold, available) straight from the inventory rows, which are the oversell gate.
 * Callers pass a store the principal manages (managedStore), so nothing here checks ownership twice.
 */

const invalidCursor = () => refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);

interface OwnStoreRow extends StoreRow {
  product_count: string | number;
}

/** The caller's own stores (owner_id = caller, operators included), newest first, keyset over (created_at, id). */
export async function listOwnStores(db: Db, caller: Principal, query: { limit: number; cursor?: string }) {
  const q = db('stores as s')
    .where('s.owner_id', caller.id)
    .select('s.id', 's.owner_id', 's.name', 's.slug', 's.currency', 's.created_at')
    // Every product counts here, drafts and archived ones too: the owner manages them all.
    .select(db.raw('(SELECT count(*) FROM products p WHERE p.store_id = s.id) AS product_count'));
  const page = await newestFirstPage<OwnStoreRow>(db, q, { time: 's.created_at', id: 's.id' }, query);
  return {
    data: page.rows.map((s) => ({ ...storeJson(s), product_count: Number(s.product_count) })),
    next_cursor: page.nextCursor,
  };
}

interface StockRow {
  variant_id: string;
  sku: string;
  attributes: Record<string, string | number | boolean>;
  hot: boolean;
  product_id: string;
  product_name: string;
  product_status: string;
  total_stock: number;
  reserved: number;
  sold: number;
}

// The sku is unique in a store, so it alone orders the pages; the cursor is the last sku, base64url.
const encodeSkuCursor = (sku: string) => Buffer.from(JSON.stringify(['sku', sku])).toString('base64url');
function decodeSkuCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value[0] === 'sku' && typeof value[1] === 'string') return value[1];
  } catch {
    // not base64url JSON: not a cursor
  }
  throw invalidCursor();
}

/** A page of the store's variants with their stock, by sku. */
export async function storeInventory(db: Db, storeId: string, query: { limit: number; cursor?: string }) {
  const q = db('variants as v')
    .join('products as p', 'p.id', 'v.product_id')
    .join('inventory as i', 'i.variant_id', 'v.id')
    .where('v.store_id', storeId)
    .select('v.id as variant_id', 'v.sku', 'v.attributes', 'v.hot', 'p.id as product_id', 'p.name as product_name', 'p.status as product_status', 'i.total_stock', 'i.reserved', 'i.sold');
  if (query.cursor) q.where('v.sku', '>', decodeSkuCursor(query.cursor));
  const rows = (await q.orderBy('v.sku').limit(query.limit + 1)) as StockRow[];
  const kept = rows.slice(0, query.limit);
  const last = kept[kept.length - 1];
  return {
    data: kept.map((r) => ({
      variant_id: r.variant_id,
      sku: r.sku,
      attributes: r.attributes,
      hot: r.hot,
      product: { id: r.product_id, name: r.product_name, status: r.product_status },
      total_stock: r.total_stock,
      reserved: r.reserved,
      sold: r.sold,
      available: r.total_stock - r.reserved - r.sold,
    })),
    next_cursor: rows.length > query.limit && last ? encodeSkuCursor(last.sku) : null,
  };
}
