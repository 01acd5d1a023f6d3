import { randomUUID } from 'node:crypto';
import { DomainError, refusals } from '../domain/errors';
import { canManage, type Principal } from '../domain/roles';
import { requirePrincipal } from '../accounts/authorization';
import type { Db } from '../infra/db';
import type { Metrics } from '../infra/metrics';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../logger';
import {
  availabilityOf,
  findStore,
  insertProduct,
  insertStore,
  InvalidCursorError,
  listProducts,
  loadCatalogEntry,
  setTotalStock,
  SkuTakenError,
  SlugTakenError,
  storeJson,
  updateProduct,
  VariantPriceError,
  productJson,
  type Attributes,
  type CatalogEntry,
  type ProductFilters,
  type ProductPatch,
  type ProductStatus,
  type StoreRow,
} from './catalog';
import { JsonBody } from '../infra/jsonBody';
import type { Config } from '../config';
import { checkProductLimits } from '../billing/planLimits';
import { HotStock } from './hotStock';
import { LiveStock } from './liveStock';
import { ProductCache, type Cached } from './productCache';

/**
 * Stores, their catalog and inventory, as merchants and shoppers use them (SQL in catalog.ts). Reads are
 * public for active products; everything else belongs to the store's owner (and operators). Another tenant's
 * store, product or variant is refused exactly like an unknown id (not_found), so ids cannot be probed
 * (DESIGN.md, invariant 4).
 */

export interface StoreDeps {
  db: Db;
  redis: RedisClient;
  logger: Logger;
  metrics: Metrics;
  /** The merchant plans, whose limits a subscribed store's new products must keep within. */
  config: Pick<Config, 'MERCHANT_PLANS'>;
}

/** A store the caller manages; any other store, or none, is the same not_found. */
export async function managedStore(db: Db, storeId: string, principal: Principal | undefined): Promise<StoreRow> {
  const caller = requirePrincipal(principal);
  const store = await findStore(db, storeId);
  if (!store || !canManage(caller, store.owner_id)) throw refusals.notFound('store');
  return store;
}

/** The default variant's sku: readable, and unique in the store because it carries the product's own id. */
function defaultSku(name: string, uniquePart: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toUpperCase()
    .slice(0, 40);
  return `${base || 'ITEM'}-${uniquePart}`;
}

const variantPriceRefusal = (err: VariantPriceError) => refusals.unprocessable('invalid_variant_price', err.message, { sku: err.sku });

export interface ProductDraft {
  name: string;
  description: string;
  base_price_cents: number;
  category?: string;
  attributes: Attributes;
  images: string[];
  status: ProductStatus;
  /** Stock of the default variant, made when `variants` is absent. */
  inventory_count?: number;
  variants?: Array<{ sku: string; attributes: Attributes; price_modifier_cents: number; inventory_count: number; hot: boolean }>;
}

/** Serialized answers kept per cached product version (stock states seen lately); past this the memo restarts. */
const RENDERINGS_PER_VERSION = 8;

/**
 * The product's answer as bytes and ETag, made once per catalog version and stock state: what a read's answer
 * depends on besides the catalog entry is `in_stock` per variant (and `available` with include_inventory), so
 * that is the memo's key. A hot product's stock moves, but its in-stock flags rarely do.
 */
function renderedProduct(cached: Cached<CatalogEntry>, available: Map<string, number>, opts: { includeInventory: boolean }): JsonBody {
  const variants = cached.value.product.variants;
  const key = opts.includeInventory ? `a:${variants.map((v) => available.get(v.id) ?? 0).join(',')}` : `s:${variants.map((v) => ((available.get(v.id) ?? 0) > 0 ? 1 : 0)).join('')}`;
  let body = cached.derived.get(key) as JsonBody | undefined;
  if (!body) {
    if (cached.derived.size >= RENDERINGS_PER_VERSION) cached.derived.clear();
    body = new JsonBody(productJson(cached.value.product, available, opts));
    cached.derived.set(key, body);
  }
  return body;
}

export function createStoreService(deps: StoreDeps) {
  const { db } = deps;
  const cache = new ProductCache(deps.redis, deps.logger, deps.metrics);
  const liveStock = new LiveStock(db);

  /** Fresh from Postgres (after a write), with live stock. */
  async function renderFresh(storeId: string, productId: string) {
    const entry = await loadCatalogEntry(db, storeId, productId);
    if (!entry) throw refusals.notFound('product');
    const available = await availabilityOf(db, storeId, entry.product.variants.map((v) => v.id));
    return productJson(entry.product, available, { includeInventory: true });
  }

  return {
    async createStore(principal: Principal | undefined, s: { name: string; slug: string; currency: string }) {
      const owner = requirePrincipal(principal);
      try {
        return storeJson(await insertStore(db, { ownerId: owner.id, name: s.name, slug: s.slug, currency: s.currency.toUpperCase() }));
      } catch (err) {
        if (err instanceof SlugTakenError) throw refusals.conflict('slug_taken', err.message);
        throw err;
      }
    },

    /** A product with its variants (one default variant when none are named) and their stock. */
    async createProduct(principal: Principal | undefined, storeId: string, p: ProductDraft) {
      const store = await managedStore(db, storeId, principal);
      const productId = randomUUID();
      const variants = p.variants?.map((v) => ({
        sku: v.sku,
        attributes: v.attributes,
        priceModifierCents: v.price_modifier_cents,
        inventoryCount: v.inventory_count,
        hot: v.hot,
      })) ?? [{ sku: defaultSku(p.name, productId.slice(0, 8).toUpperCase()), attributes: {}, priceModifierCents: 0, inventoryCount: p.inventory_count ?? 0, hot: false }];
      try {
        const id = await insertProduct(db, store.id, {
          id: productId,
          name: p.name,
          description: p.description,
          basePriceCents: p.base_price_cents,
          category: p.category ?? null,
          attributes: p.attributes,
          images: p.images,
          status: p.status,
          variants,
        }, (trx) => checkProductLimits(trx, deps.config, store.id, variants.filter((v) => v.hot).length));
        return await renderFresh(store.id, id);
      } catch (err) {
        if (err instanceof SkuTakenError) throw refusals.conflict('sku_taken', err.message);
        if (err instanceof VariantPriceError) throw variantPriceRefusal(err);
        throw err;
      }
    },

    /** A page of the store's products; drafts and archived ones for its managers only. */
    async listProducts(principal: Principal | undefined, storeId: string, filters: Omit<ProductFilters, 'status'> & { status?: ProductStatus }) {
      const status = filters.status ?? 'active';
      const store = status === 'active' ? await findStore(db, storeId) : await managedStore(db, storeId, principal);
      if (!store) throw refusals.notFound('store');
      try {
        const page = await listProducts(db, store.id, store.currency, { ...filters, status });
        return { data: page.data, next_cursor: page.nextCursor };
      } catch (err) {
        if (err instanceof InvalidCursorError) throw new DomainError('invalid', 'invalid_cursor', err.message, {}, 'Invalid cursor');
        throw err;
      }
    },

    /**
     * A product with live stock, as a serialized answer. Cache choice: only the catalog part (product, variants,
     * store owner) is cached; stock is read from Postgres on every request (LiveStock: one query for the reads
     * that arrive together, each sent after its reads arrived). Stock moves on every cart add, expiry and
     * checkout, which would empty the cache exactly when a product is hot, and a cached count could promise
     * units that are gone.
     */
    async product(principal: Principal | undefined, storeId: string, productId: string, opts: { includeInventory: boolean }): Promise<JsonBody> {
      const cached = await cache.lookup<CatalogEntry>(productId, () => loadCatalogEntry(db, storeId, productId));
      // The cache is keyed by product only, so the store is checked on every hit: store A's product is not
      // found under store B's path.
      if (!cached || cached.value.product.store_id !== storeId) throw refusals.notFound('product');
      const entry = cached.value;
      if (entry.product.status !== 'active' && !(principal && canManage(principal, entry.owner_id))) throw refusals.notFound('product');
      const available = await liveStock.available(storeId, entry.product.variants.map((v) => v.id));
      return renderedProduct(cached, available, opts);
    },

    async updateProduct(principal: Principal | undefined, storeId: string, productId: string, patch: ProductPatch) {
      const store = await managedStore(db, storeId, principal);
      let found: boolean;
      try {
        found = await updateProduct(db, store.id, productId, patch);
      } catch (err) {
        if (err instanceof VariantPriceError) throw variantPriceRefusal(err);
        throw err;
      }
      if (!found) throw refusals.notFound('product');
      await cache.invalidate(productId);
      return renderFresh(store.id, productId);
    },

    /** Sets a variant's total stock, never below what is reserved or sold. */
    async setStock(principal: Principal | undefined, storeId: string, variantId: string, totalStock: number) {
      const store = await managedStore(db, storeId, principal);
      const change = await setTotalStock(db, store.id, variantId, totalStock);
      if (change.kind === 'not_found') throw refusals.notFound('variant');
      if (change.kind === 'below_committed') {
        throw refusals.conflict('stock_below_committed', `total_stock must be at least reserved + sold (${change.reserved + change.sold}).`, {
          reserved: change.reserved,
          sold: change.sold,
        });
      }
      // Stock is never cached (see product), but the entry goes anyway: every inventory write invalidates, so a
      // later change to what the cache holds cannot make this path stale.
      await cache.invalidate(change.productId);
      // A hot variant's Redis counter is rebuilt from Postgres at the next take (a no-op for other variants).
      await new HotStock(deps.redis, db, deps.logger).forget(variantId);
      return {
        variant_id: variantId,
        total_stock: change.total_stock,
        reserved: change.reserved,
        sold: change.sold,
        available: change.total_stock - change.reserved - change.sold,
      };
    },
  };
}
