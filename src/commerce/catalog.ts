import type { Knex } from 'knex';
import type { Db } from '../infra/db';

/**
 * Stores, products, variants and inventory: the queries and the JSON the API answers with.
 *
 * Tenancy (DESIGN.md, invariant 4): every query below that touches a store's data takes the store id and
 * filters by it, so an id from another store simply matches nothing. Callers check ownership of the store.
 */

export const PRODUCT_STATUSES = ['active', 'draft', 'archived'] as const;
export type ProductStatus = (typeof PRODUCT_STATUSES)[number];

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

type Conn = Db | Knex.Transaction;

export interface StoreRow {
  id: string;
  owner_id: string;
  name: string;
  slug: string;
  currency: string;
  created_at: Date;
}

interface ProductRow {
  id: string;
  store_id: string;
  name: string;
  description: string;
  base_price_cents: number;
  category: string | null;
  attributes: Attributes;
  images: string[];
  status: ProductStatus;
  created_at: Date;
  updated_at: Date;
}

interface VariantRow {
  id: string;
  product_id: string;
  sku: string;
  attributes: Attributes;
  price_modifier_cents: number;
  hot: boolean;
}

// Never `*`: products also hold the generated search vector, which is no client's business.
const PRODUCT_COLUMNS = [
  'id',
  'store_id',
  'name',
  'description',
  'base_price_cents',
  'category',
  'attributes',
  'images',
  'status',
  'created_at',
  'updated_at',
] as const;
const VARIANT_COLUMNS = ['id', 'product_id', 'sku', 'attributes', 'price_modifier_cents', 'hot'] as const;

export class SlugTakenError extends Error {
  constructor() {
    super('That store slug is taken.');
    this.name = 'SlugTakenError';
  }
}

export class SkuTakenError extends Error {
  constructor() {
    super('A variant with that sku already exists in this store.');
    this.name = 'SkuTakenError';
  }
}

export class VariantPriceError extends Error {
  constructor(readonly sku: string, readonly priceCents: number) {
    super(`Variant ${sku} would cost ${priceCents} cents; every variant's price (base + modifier) must be above 0.`);
    this.name = 'VariantPriceError';
  }
}

export class InvalidCursorError extends Error {
  constructor() {
    super('The cursor is not one this list returned (for this search).');
    this.name = 'InvalidCursorError';
  }
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === constraint;
}

// ---------------------------------------------------------------------------------------------- stores

export async function insertStore(db: Db, s: { ownerId: string; name: string; slug: string; currency: string }): Promise<StoreRow> {
  try {
    const [row] = (await db('stores')
      .insert({ owner_id: s.ownerId, name: s.name, slug: s.slug, currency: s.currency })
      .returning(['id', 'owner_id', 'name', 'slug', 'currency', 'created_at'])) as StoreRow[];
    return row!;
  } catch (err) {
    // The unique constraint decides, so two concurrent sign-ups for one slug cannot both win.
    if (isUniqueViolation(err, 'stores_slug_key')) throw new SlugTakenError();
    throw err;
  }
}

export async function findStore(db: Conn, id: string): Promise<StoreRow | undefined> {
  return (await db('stores').where({ id }).first('id', 'owner_id', 'name', 'slug', 'currency', 'created_at')) as StoreRow | undefined;
}

export function storeJson(s: StoreRow) {
  return { id: s.id, owner_id: s.owner_id, name: s.name, slug: s.slug, currency: s.currency, created_at: s.created_at.toISOString() };
}

// -------------------------------------------------------------------------------------------- products

export interface NewVariant {
  sku: string;
  attributes: Attributes;
  priceModifierCents: number;
  inventoryCount: number;
  hot: boolean;
}

export interface NewProduct {
  /** Chosen by the caller, so the default variant's sku can carry it. */
  id: string;
  name: string;
  description: string;
  basePriceCents: number;
  category: string | null;
  attributes: Attributes;
  images: string[];
  status: ProductStatus;
  /** At least one; the route makes the default variant when the request names none. */
  variants: NewVariant[];
}

/** Final price of each variant must be positive: checked before any write, and again on base price changes. */
export function checkVariantPrices(basePriceCents: number, variants: readonly { sku: string; priceModifierCents: number }[]): void {
  for (const v of variants) {
    const price = basePriceCents + v.priceModifierCents;
    if (price <= 0) throw new VariantPriceError(v.sku, price);
  }
}

/**
 * Product, variants and their inventory rows in one transaction; returns the product id. `guard` runs first in
 * that transaction (the plan's limits, src/billing/planLimits.ts), so what it counts cannot change before the insert.
 */
export async function insertProduct(db: Db, storeId: string, p: NewProduct, guard?: (trx: Knex.Transaction) => Promise<void>): Promise<string> {
  checkVariantPrices(p.basePriceCents, p.variants);
  try {
    return await db.transaction(async (trx) => {
      await guard?.(trx);
      const [product] = (await trx('products')
        .insert({
          id: p.id,
          store_id: storeId,
          name: p.name,
          description: p.description,
          base_price_cents: p.basePriceCents,
          category: p.category,
          // Stringified: the pg driver would turn a JS array into a Postgres array literal, not JSON.
          attributes: JSON.stringify(p.attributes),
          images: JSON.stringify(p.images),
          status: p.status,
        })
        .returning('id')) as { id: string }[];
      const variants = (await trx('variants')
        .insert(
          p.variants.map((v) => ({
            product_id: product!.id,
            store_id: storeId,
            sku: v.sku,
            attributes: JSON.stringify(v.attributes),
            price_modifier_cents: v.priceModifierCents,
            hot: v.hot,
          })),
        )
        .returning(['id', 'sku'])) as { id: string; sku: string }[];
      const stockBySku = new Map(p.variants.map((v) => [v.sku, v.inventoryCount]));
      await trx('inventory').insert(variants.map((v) => ({ variant_id: v.id, store_id: storeId, total_stock: stockBySku.get(v.sku) ?? 0 })));
      return product!.id;
    });
  } catch (err) {
    if (isUniqueViolation(err, 'variants_store_id_sku_key')) throw new SkuTakenError();
    throw err;
  }
}

export interface ProductPatch {
  name?: string;
  description?: string;
  base_price_cents?: number;
  category?: string | null;
  attributes?: Attributes;
  images?: string[];
  status?: ProductStatus;
}

/** False when the store has no such product. Throws VariantPriceError when a new base price would price a variant at 0 or less. */
export async function updateProduct(db: Db, storeId: string, productId: string, patch: ProductPatch): Promise<boolean> {
  return db.transaction(async (trx) => {
    // The row lock serialises price changes with each other (and with variant changes, which must take it too).
    const row = (await trx('products').where({ id: productId, store_id: storeId }).forUpdate().first('id')) as { id: string } | undefined;
    if (!row) return false;
    if (patch.base_price_cents !== undefined) {
      const variants = (await trx('variants').where({ product_id: productId, store_id: storeId }).select('sku', 'price_modifier_cents')) as {
        sku: string;
        price_modifier_cents: number;
      }[];
      checkVariantPrices(
        patch.base_price_cents,
        variants.map((v) => ({ sku: v.sku, priceModifierCents: v.price_modifier_cents })),
      );
    }
    const changes: Record<string, unknown> = { ...patch, updated_at: trx.fn.now() };
    if (patch.attributes !== undefined) changes.attributes = JSON.stringify(patch.attributes);
    if (patch.images !== undefined) changes.images = JSON.stringify(patch.images);
    await trx('products').where({ id: productId, store_id: storeId }).update(changes);
    return true;
  });
}

// ------------------------------------------------------------------------------------- catalog shapes

export interface VariantJson {
  id: string;
  sku: string;
  attributes: Attributes;
  price_modifier_cents: number;
  price_cents: number;
  hot: boolean;
}

/** A product without stock figures: what the product cache may hold (stock is always read live). */
export interface CatalogProduct {
  id: string;
  store_id: string;
  name: string;
  description: string;
  base_price_cents: number;
  currency: string;
  category: string | null;
  attributes: Attributes;
  images: string[];
  status: ProductStatus;
  created_at: string;
  updated_at: string;
  variants: VariantJson[];
}

/** The catalog part plus who owns the store (to decide who may see drafts), as the cache stores it. */
export interface CatalogEntry {
  owner_id: string;
  product: CatalogProduct;
}

function catalogProduct(p: ProductRow, currency: string, variants: VariantRow[]): CatalogProduct {
  return {
    id: p.id,
    store_id: p.store_id,
    name: p.name,
    description: p.description,
    base_price_cents: p.base_price_cents,
    currency,
    category: p.category,
    attributes: p.attributes,
    images: p.images,
    status: p.status,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
    variants: variants.map((v) => ({
      id: v.id,
      sku: v.sku,
      attributes: v.attributes,
      price_modifier_cents: v.price_modifier_cents,
      price_cents: p.base_price_cents + v.price_modifier_cents,
      hot: v.hot,
    })),
  };
}

async function variantsOf(db: Conn, storeId: string, productIds: readonly string[]): Promise<Map<string, VariantRow[]>> {
  const byProduct = new Map<string, VariantRow[]>(productIds.map((id) => [id, []]));
  if (!productIds.length) return byProduct;
  const rows = (await db('variants')
    .where('store_id', storeId)
    .whereIn('product_id', productIds)
    .orderBy([{ column: 'created_at' }, { column: 'sku' }])
    .select(VARIANT_COLUMNS)) as VariantRow[];
  for (const v of rows) byProduct.get(v.product_id)?.push(v);
  return byProduct;
}

/** One product of one store, without stock figures; undefined when that store has no such product. */
export async function loadCatalogEntry(db: Conn, storeId: string, productId: string): Promise<CatalogEntry | undefined> {
  const store = await findStore(db, storeId);
  if (!store) return undefined;
  const row = (await db('products').where({ id: productId, store_id: storeId }).first(PRODUCT_COLUMNS)) as ProductRow | undefined;
  if (!row) return undefined;
  const variants = await variantsOf(db, storeId, [row.id]);
  return { owner_id: store.owner_id, product: catalogProduct(row, store.currency, variants.get(row.id) ?? []) };
}

/** Sellable units per variant right now (total - reserved - sold), straight from Postgres. */
export async function availabilityOf(db: Conn, storeId: string, variantIds: readonly string[]): Promise<Map<string, number>> {
  if (!variantIds.length) return new Map();
  const rows = (await db('inventory')
    .where('store_id', storeId)
    .whereIn('variant_id', variantIds)
    .select('variant_id', db.raw('total_stock - reserved - sold AS available'))) as { variant_id: string; available: number }[];
  return new Map(rows.map((r) => [r.variant_id, r.available]));
}

/** The API's product: catalog data, `in_stock` per variant and overall, `available` per variant on request. */
export function productJson(p: CatalogProduct, available: Map<string, number>, opts: { includeInventory: boolean }) {
  const variants = p.variants.map((v) => {
    const units = available.get(v.id) ?? 0;
    return { ...v, in_stock: units > 0, ...(opts.includeInventory ? { available: units } : {}) };
  });
  return { ...p, in_stock: variants.some((v) => v.in_stock), variants };
}

// ------------------------------------------------------------------------------------------- inventory

export type StockChange =
  | { kind: 'updated'; productId: string; total_stock: number; reserved: number; sold: number }
  | { kind: 'below_committed'; reserved: number; sold: number }
  | { kind: 'not_found' };

/**
 * Sets a variant's stock. The condition sits in the UPDATE itself, so a reservation committed between a read
 * and this write cannot be stranded above the new total (and the CHECK backs it up regardless).
 */
export async function setTotalStock(db: Db, storeId: string, variantId: string, totalStock: number): Promise<StockChange> {
  const updated = (await db.raw(
    `UPDATE inventory i SET total_stock = ?, updated_at = now()
       FROM variants v
      WHERE i.variant_id = ? AND i.store_id = ? AND v.id = i.variant_id AND v.store_id = i.store_id
        AND ? >= i.reserved + i.sold
      RETURNING v.product_id, i.total_stock, i.reserved, i.sold`,
    [totalStock, variantId, storeId, totalStock],
  )) as { rows: { product_id: string; total_stock: number; reserved: number; sold: number }[] };
  const row = updated.rows[0];
  if (row) return { kind: 'updated', productId: row.product_id, total_stock: row.total_stock, reserved: row.reserved, sold: row.sold };
  const current = (await db('inventory').where({ variant_id: variantId, store_id: storeId }).first('reserved', 'sold')) as
    | { reserved: number; sold: number }
    | undefined;
  return current ? { kind: 'below_committed', reserved: current.reserved, sold: current.sold } : { kind: 'not_found' };
}

// ------------------------------------------------------------------------------------------- listing

export interface ProductFilters {
  status: ProductStatus;
  q?: string;
  category?: string;
  minPriceCents?: number;
  maxPriceCents?: number;
  limit: number;
  cursor?: string;
}

/** Below this word similarity a name is not a typo of the query (0.3 lets "hedphones" match "Headphones"). */
const WORD_SIMILARITY_MIN = 0.3;

// Cursors: ['t', created_at to the microsecond, id] for newest-first pages, ['r', rank, id] for search pages.
type Cursor = { kind: 't'; key: string; id: string } | { kind: 'r'; key: string; id: string };
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const CURSOR_RANK = /^\d{1,3}\.\d{6}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify([c.kind, c.key, c.id])).toString('base64url');

function decodeCursor(cursor: string, kind: Cursor['kind']): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3) {
      const [k, key, id] = value as unknown[];
      const keyOk = kind === 't' ? typeof key === 'string' && CURSOR_TIME.test(key) && !Number.isNaN(Date.parse(key)) : typeof key === 'string' && CURSOR_RANK.test(key);
      if (k === kind && keyOk && typeof id === 'string' && UUID.test(id)) return { kind, key: key as string, id };
    }
  } catch {
    // falls through
  }
  throw new InvalidCursorError();
}

/**
 * One store's products. Without `q`: newest first. With `q`: best match first, where a product matches when
 * the full-text search hits (stemmed words in name, category, description) or its name is a near-miss
 * spelling of the query (trigram similarity; `%` can use the trigram index, word_similarity runs on the
 * store's rows the other conditions left). Keyset-paged either way, so pages never skip or repeat rows.
 */
export async function listProducts(
  db: Db,
  storeId: string,
  currency: string,
  f: ProductFilters,
): Promise<{ data: ReturnType<typeof productJson>[]; nextCursor: string | null }> {
  const inner = db('products as p').where('p.store_id', storeId).andWhere('p.status', f.status).select(PRODUCT_COLUMNS.map((c) => `p.${c}`));
  if (f.category !== undefined) inner.where('p.category', f.category);
  if (f.minPriceCents !== undefined) inner.where('p.base_price_cents', '>=', f.minPriceCents);
  if (f.maxPriceCents !== undefined) inner.where('p.base_price_cents', '<=', f.maxPriceCents);

  let rows: (ProductRow & { cursor_key: string })[];
  if (f.q !== undefined) {
    const q = f.q;
    inner
      .whereRaw(`(p.search @@ websearch_to_tsquery('english', ?) OR p.name % ? OR word_similarity(?, p.name) > ?)`, [q, q, q, WORD_SIMILARITY_MIN])
      // Rounded to a fixed number of decimals so the cursor compares exactly (no float round trips).
      .select(
        db.raw(
          `round(greatest(ts_rank(p.search, websearch_to_tsquery('english', ?)), similarity(p.name, ?), word_similarity(?, p.name))::numeric, 6)::text AS cursor_key`,
          [q, q, q],
        ),
      );
    const outer = db.select('*').from(inner.as('ranked'));
    if (f.cursor) {
      const c = decodeCursor(f.cursor, 'r');
      outer.where((w) => {
        w.whereRaw('cursor_key::numeric < ?::numeric', [c.key]).orWhere((same) => same.whereRaw('cursor_key::numeric = ?::numeric', [c.key]).andWhere('id', '>', c.id));
      });
    }
    rows = (await outer
      .orderByRaw('cursor_key::numeric DESC, id ASC')
      .limit(f.limit + 1)) as typeof rows;
  } else {
    inner.select(db.raw(`to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_key`));
    if (f.cursor) {
      const c = decodeCursor(f.cursor, 't');
      inner.where((w) => {
        w.where('p.created_at', '<', c.key).orWhere((same) => same.where('p.created_at', '=', c.key).andWhere('p.id', '>', c.id));
      });
    }
    rows = (await inner.orderBy([{ column: 'p.created_at', order: 'desc' }, { column: 'p.id', order: 'asc' }]).limit(f.limit + 1)) as typeof rows;
  }

  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  const nextCursor = rows.length > f.limit && last ? encodeCursor({ kind: f.q !== undefined ? 'r' : 't', key: last.cursor_key, id: last.id }) : null;

  const variants = await variantsOf(db, storeId, page.map((p) => p.id));
  const available = await availabilityOf(
    db,
    storeId,
    [...variants.values()].flat().map((v) => v.id),
  );
  const data = page.map(({ cursor_key: _omit, ...p }) => productJson(catalogProduct(p, currency, variants.get(p.id) ?? []), available, { includeInventory: false }));
  return { data, nextCursor };
}
