import { z } from 'zod';
import { pageQuery, uuidParam, type Api } from '../http/api';
import { text } from '../http/text';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { listMyOrders, listStorefrontStores, storefrontStore } from '../../commerce/storefront';
import { OrderSchema, OrderSummarySchema } from './orderSchemas';

/**
 * What shoppers read (API.md, "Storefront reads shoppers need"): the store list with search, one store by id or
 * by slug, and the caller's own orders (src/commerce/storefront.ts). Stores are public; the order list shows
 * only the caller's orders.
 */

const StorefrontStoreSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    currency: z.string().openapi({ description: 'ISO 4217; the currency of every price in the store' }),
    product_count: z.number().int().openapi({ description: 'Active products (what the storefront lists)' }),
    created_at: z.iso.datetime(),
  })
  .openapi('StorefrontStore');

const StorefrontStoreListSchema = z.object({ data: z.array(StorefrontStoreSchema), next_cursor: z.string().nullable() }).openapi('StorefrontStoreList');

const MyOrderSchema = OrderSummarySchema.extend({
  store: z.object({ id: z.uuid(), name: z.string(), slug: z.string() }),
  items: OrderSchema.shape.items,
}).openapi('MyOrder');

const MyOrderListSchema = z.object({ data: z.array(MyOrderSchema), next_cursor: z.string().nullable() }).openapi('MyOrderList');

const ListStoresQuery = z.object({
  q: text(1, 200).optional().openapi({ description: 'Stores whose name contains it or is a near-miss spelling of it, or whose slug is it; best match first' }),
  ...pageQuery,
});

const SlugParams = z.object({ slug: z.string().regex(/^[a-z0-9-]{3,60}$/, '3-60 lowercase letters, digits or dashes') });

const notFound = { description: 'No such store' };

export function registerStorefrontRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;

  api.route(
    {
      method: 'get',
      path: '/v1/stores',
      operationId: 'listStores',
      etag: true,
      summary: 'Stores: newest first, or best match first with q',
      tags: ['stores'],
      auth: 'public',
      query: ListStoresQuery,
      responses: { 200: { description: 'A page of stores', schema: StorefrontStoreListSchema } },
    },
    async ({ query }) => ({ status: 200, body: await listStorefrontStores(db, query) }),
  );

  // Two segments after /v1/stores, so /v1/stores/{store_id} never takes it (and a store id is a uuid anyway).
  api.route(
    {
      method: 'get',
      path: '/v1/stores/by-slug/{slug}',
      operationId: 'getStoreBySlug',
      etag: true,
      summary: 'A store by its slug',
      tags: ['stores'],
      auth: 'public',
      params: SlugParams,
      responses: { 200: { description: 'The store', schema: StorefrontStoreSchema }, 404: notFound },
    },
    async ({ params }) => ({ status: 200, body: await storefrontStore(db, { slug: params.slug }) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/stores/{store_id}',
      operationId: 'getStore',
      etag: true,
      summary: 'A store by its id',
      tags: ['stores'],
      auth: 'public',
      params: uuidParam('store_id'),
      responses: { 200: { description: 'The store', schema: StorefrontStoreSchema }, 404: notFound },
    },
    async ({ params }) => ({ status: 200, body: await storefrontStore(db, { id: params.store_id }) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/me/orders',
      operationId: 'listMyOrders',
      summary: 'Your orders, newest first, with items, status, totals and the store',
      tags: ['orders'],
      auth: 'user',
      query: z.object(pageQuery),
      responses: { 200: { description: 'A page of your orders', schema: MyOrderListSchema } },
    },
    async ({ query, principal }) => ({ status: 200, body: await listMyOrders(db, requirePrincipal(principal), query) }),
  );
}
