import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { PRODUCT_STATUSES } from '../../commerce/catalog';
import { createStoreService, managedStore } from '../../commerce/stores';
import { listOwnStores, storeInventory } from '../../commerce/merchantReads';
import { requirePrincipal } from '../../accounts/authorization';
import { NUL_MESSAGE, noNul, text } from '../http/text';

/**
 * Stores, their catalog and inventory (src/commerce/stores.ts). Reads are public for active products;
 * everything else belongs to the store's owner (and operators). Another tenant's store, product or variant
 * answers exactly like an unknown id (404), so ids cannot be probed (DESIGN.md, invariant 4).
 */

const MAX_PRICE_CENTS = 10_000_000_000;
/** Far above any real stock, and keeps reserved + sold well inside Postgres' integer. */
const MAX_STOCK = 100_000_000;
const MAX_VARIANTS = 100;


const AttributesSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_ .:-]{0,63}$/, 'attribute names: letters, digits, _ . : - and spaces, up to 64'),
    z.union([z.string().max(500).refine(noNul, NUL_MESSAGE), z.number(), z.boolean()]),
  )
  .refine((o) => Object.keys(o).length <= 50, 'at most 50 attributes')
  .openapi({ description: 'Flat key/value pairs, e.g. {"color": "black", "size": "M"}', example: { color: 'black' } });

const ImagesSchema = z
  .array(z.url({ protocol: /^https$/ }).max(2_000).refine(noNul, NUL_MESSAGE))
  .max(20)
  .openapi({ description: 'https URLs' });

const Sku = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (up to 64, starting with a letter or digit)');
// Lower-casing can lengthen a string ('İ' becomes two code points), so the database's limit is checked after it.
const Category = text(1, 100)
  .transform((c) => c.toLowerCase())
  .refine((c) => [...c].length <= 100, 'at most 100 characters')
  .openapi({ description: 'Free text, stored lower-cased' });
const PriceCents = z.number().int().min(1).max(MAX_PRICE_CENTS);
const Stock = z.number().int().min(0).max(MAX_STOCK);

const CreateStoreBody = z
  .strictObject({
    name: text(1, 200),
    slug: z.string().regex(/^[a-z0-9-]{3,60}$/, '3-60 lowercase letters, digits or dashes'),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code')
      .openapi({ description: 'ISO 4217; stored upper-cased', example: 'USD' }),
  })
  .openapi('CreateStoreRequest');

const CreateVariantBody = z.strictObject({
  sku: Sku,
  attributes: AttributesSchema,
  price_modifier_cents: z.number().int().min(-MAX_PRICE_CENTS).max(MAX_PRICE_CENTS).default(0),
  inventory_count: Stock,
  hot: z.boolean().default(false).openapi({ description: 'Flash-sale variant' }),
});

const CreateProductBody = z
  .strictObject({
    name: text(1, 200),
    description: z.string().max(10_000).refine(noNul, NUL_MESSAGE).default(''),
    base_price_cents: PriceCents,
    category: Category.optional(),
    attributes: AttributesSchema.default({}),
    images: ImagesSchema.default([]),
    status: z.enum(PRODUCT_STATUSES).default('active'),
    inventory_count: Stock.optional().openapi({ description: 'Stock of the default variant; only without `variants`' }),
    variants: z.array(CreateVariantBody).min(1).max(MAX_VARIANTS).optional().openapi({ description: 'Absent: one default variant' }),
  })
  .superRefine((b, ctx) => {
    if (b.variants && b.inventory_count !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['inventory_count'], message: 'applies only to the default variant; give each variant its inventory_count' });
    }
    const seen = new Set<string>();
    for (const [i, v] of (b.variants ?? []).entries()) {
      if (seen.has(v.sku)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'sku'], message: 'duplicate sku in this request' });
      seen.add(v.sku);
    }
  })
  .openapi('CreateProductRequest');

const PatchProductBody = z
  .strictObject({
    name: text(1, 200).optional(),
    description: z.string().max(10_000).refine(noNul, NUL_MESSAGE).optional(),
    base_price_cents: PriceCents.optional(),
    category: Category.nullable().optional().openapi({ description: 'null removes the category' }),
    attributes: AttributesSchema.optional(),
    images: ImagesSchema.optional(),
    status: z.enum(PRODUCT_STATUSES).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'name at least one field to change')
  .openapi('UpdateProductRequest');

const SetStockBody = z.strictObject({ total_stock: Stock }).openapi('SetStockRequest');

const ListProductsQuery = z
  .object({
    q: text(1, 200).optional().openapi({ description: 'Typo-tolerant search on name (and full text on category and description)' }),
    category: Category.optional(),
    min_price_cents: z.coerce.number().int().min(0).max(MAX_PRICE_CENTS).optional().openapi({ description: 'On the base price' }),
    max_price_cents: z.coerce.number().int().min(0).max(MAX_PRICE_CENTS).optional().openapi({ description: 'On the base price' }),
    status: z.enum(PRODUCT_STATUSES).optional().openapi({ description: 'Default active; draft and archived for the owner only' }),
    ...pageQuery,
  })
  .refine((q) => q.min_price_cents === undefined || q.max_price_cents === undefined || q.min_price_cents <= q.max_price_cents, {
    path: ['max_price_cents'],
    message: 'must not be below min_price_cents',
  });

const GetProductQuery = z.object({
  include_inventory: z.enum(['true', 'false']).optional().openapi({ description: '`true` adds `available` per variant' }),
});

const ProductParams = z.object({ store_id: z.uuid(), product_id: z.uuid() });
const VariantParams = z.object({ store_id: z.uuid(), variant_id: z.uuid() });

const StoreSchema = z
  .object({ id: z.uuid(), owner_id: z.uuid(), name: z.string(), slug: z.string(), currency: z.string(), created_at: z.iso.datetime() })
  .openapi('Store');

const VariantSchema = z
  .object({
    id: z.uuid(),
    sku: z.string(),
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    price_modifier_cents: z.number().int(),
    price_cents: z.number().int().openapi({ description: 'base_price_cents + price_modifier_cents' }),
    hot: z.boolean(),
    in_stock: z.boolean(),
    available: z.number().int().optional().openapi({ description: 'With include_inventory=true: total - reserved - sold' }),
  })
  .openapi('Variant');

const ProductSchema = z
  .object({
    id: z.uuid(),
    store_id: z.uuid(),
    name: z.string(),
    description: z.string(),
    base_price_cents: z.number().int(),
    currency: z.string(),
    category: z.string().nullable(),
    attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    images: z.array(z.string()),
    status: z.enum(PRODUCT_STATUSES),
    in_stock: z.boolean().openapi({ description: 'Some variant has units available' }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    variants: z.array(VariantSchema),
  })
  .openapi('Product');

const ProductListSchema = z.object({ data: z.array(ProductSchema), next_cursor: z.string().nullable() }).openapi('ProductList');

const InventorySchema = z
  .object({ variant_id: z.uuid(), total_stock: z.number().int(), reserved: z.number().int(), sold: z.number().int(), available: z.number().int() })
  .openapi('Inventory');

const OwnStoreSchema = StoreSchema.extend({ product_count: z.number().int().openapi({ description: 'Every product: active, draft and archived' }) }).openapi('OwnStore');
const OwnStoreListSchema = z.object({ data: z.array(OwnStoreSchema), next_cursor: z.string().nullable() }).openapi('OwnStoreList');

const StockLineSchema = InventorySchema.extend({
  sku: z.string(),
  attributes: VariantSchema.shape.attributes,
  hot: z.boolean(),
  product: z.object({ id: z.uuid(), name: z.string(), status: z.enum(PRODUCT_STATUSES) }),
}).openapi('StockLine');
const StockListSchema = z.object({ data: z.array(StockLineSchema), next_cursor: z.string().nullable() }).openapi('StockList');

const described = (description: string) => ({ description });

export function registerStoreRoutes(api: Api, deps: AppDeps): void {
  const stores = createStoreService(deps);

  api.route(
    {
      method: 'post',
      path: '/v1/stores',
      operationId: 'createStore',
      summary: 'Open a store (merchants)',
      tags: ['stores'],
      auth: ['merchant'],
      body: CreateStoreBody,
      responses: { 201: { description: 'Created', schema: StoreSchema }, 409: described('`slug_taken`') },
    },
    async ({ body, principal }) => ({ status: 201, body: await stores.createStore(principal, body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/stores',
      operationId: 'listMyStores',
      summary: 'Your own stores, newest first (merchants and operators)',
      tags: ['stores'],
      auth: ['merchant'],
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of your stores', schema: OwnStoreListSchema } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listOwnStores(deps.db, requirePrincipal(principal), query) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/stores/{store_id}/inventory',
      operationId: 'listStoreInventory',
      summary: "The store's variants with their stock: total, reserved, sold and available, by sku (store owner)",
      tags: ['stores'],
      auth: ['merchant'],
      params: uuidParam('store_id'),
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of stock lines', schema: StockListSchema }, 404: described('No such store, or not yours') },
    },
    async ({ params, query, principal }) => {
      const store = await managedStore(deps.db, params.store_id, principal);
      return { status: 200, body: await storeInventory(deps.db, store.id, query) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/v1/stores/{store_id}/products',
      operationId: 'createProduct',
      summary: 'Add a product with its variants and their stock (store owner)',
      tags: ['stores'],
      auth: ['merchant'],
      params: uuidParam('store_id'),
      body: CreateProductBody,
      responses: {
        201: { description: 'Created, with variants and `available` per variant', schema: ProductSchema },
        404: described('No such store, or not yours'),
        409: described('`sku_taken`: a variant of this store already has that sku; `plan_limit_reached`: the store\'s plan allows no more `products` or `hot_variants`'),
        422: described('`invalid_variant_price`: base + modifier must be above 0'),
      },
    },
    async ({ params, body, principal }) => ({ status: 201, body: await stores.createProduct(principal, params.store_id, body) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/stores/{store_id}/products',
      operationId: 'listProducts',
      etag: true,
      summary: "A store's products: newest first, or best match first with q",
      tags: ['stores'],
      auth: 'optional',
      params: uuidParam('store_id'),
      query: ListProductsQuery,
      responses: { 200: { description: 'A page of products', schema: ProductListSchema }, 404: described('No such store (or drafts of a store not yours)') },
    },
    async ({ params, query, principal }) => {
      const page = await stores.listProducts(principal, params.store_id, {
        status: query.status,
        q: query.q,
        category: query.category,
        minPriceCents: query.min_price_cents,
        maxPriceCents: query.max_price_cents,
        limit: query.limit,
        cursor: query.cursor,
      });
      return { status: 200, body: page };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/stores/{store_id}/products/{product_id}',
      operationId: 'getProduct',
      etag: true,
      summary: 'A product with its variants; in_stock always, available with include_inventory=true',
      tags: ['stores'],
      auth: 'optional',
      params: ProductParams,
      query: GetProductQuery,
      responses: { 200: { description: 'The product', schema: ProductSchema }, 404: described('No such product in this store (or a draft not yours)') },
    },
    async ({ params, query, principal }) => ({
      status: 200,
      body: await stores.product(principal, params.store_id, params.product_id, { includeInventory: query.include_inventory === 'true' }),
    }),
  );

  api.route(
    {
      method: 'patch',
      path: '/v1/stores/{store_id}/products/{product_id}',
      operationId: 'updateProduct',
      summary: 'Change a product (store owner)',
      tags: ['stores'],
      auth: ['merchant'],
      params: ProductParams,
      body: PatchProductBody,
      responses: {
        200: { description: 'The product as it is now, with `available` per variant', schema: ProductSchema },
        404: described('No such product in a store of yours'),
        422: described('`invalid_variant_price`: the new base price would price a variant at 0 or less'),
      },
    },
    async ({ params, body, principal }) => ({ status: 200, body: await stores.updateProduct(principal, params.store_id, params.product_id, body) }),
  );

  api.route(
    {
      method: 'put',
      path: '/v1/stores/{store_id}/inventory/{variant_id}',
      operationId: 'setVariantStock',
      summary: "Set a variant's total stock (store owner); never below what is reserved or sold",
      tags: ['stores'],
      auth: ['merchant'],
      params: VariantParams,
      body: SetStockBody,
      responses: {
        200: { description: 'The variant stock now', schema: InventorySchema },
        404: described('No such variant in a store of yours'),
        409: described('`stock_below_committed`: total_stock < reserved + sold; carries `reserved` and `sold`'),
      },
    },
    async ({ params, body, principal }) => ({ status: 200, body: await stores.setStock(principal, params.store_id, params.variant_id, body.total_stock) }),
  );
}
