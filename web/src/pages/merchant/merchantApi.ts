import { useQuery } from '@tanstack/react-query';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../lib/problem';
import { usePages } from '../../lib/usePages';

/** Reads of the merchant's store admin (API.md "Stores and catalog", "Carts, checkout, orders", "Drops", "Billing"). */
export type OwnStore = Schemas['OwnStore'];
export type StockLine = Schemas['StockLine'];
export type StoreOrder = Schemas['OrderSummary'];
export type OrderStatus = StoreOrder['status'];
export type Plan = Schemas['Plan'];
export type Subscription = Schemas['StoreSubscription'];
export type CreditNote = Schemas['CreditNote'];

/** Stock, orders and drops move without the merchant (shoppers buy, timers fire): read afresh on every visit. */
const LIVE = { staleTime: 0 };

/** Query keys, so a change can refresh exactly the reads it moved. */
export const merchantKeys = {
  stores: ['merchant', 'stores'] as const,
  products: (storeId: string, status: string) => ['merchant', storeId, 'products', status] as const,
  inventory: (storeId: string) => ['merchant', storeId, 'inventory'] as const,
  orders: (storeId: string, status: string) => ['merchant', storeId, 'orders', status] as const,
  drops: (storeId: string) => ['merchant', storeId, 'drops'] as const,
  subscription: (storeId: string) => ['merchant', storeId, 'subscription'] as const,
};

const PAGE = 50;

export function useMyStores() {
  return usePages(merchantKeys.stores, (cursor) => unwrap(api.GET('/v1/me/stores', { params: { query: { limit: PAGE, cursor } } })));
}

/**
 * The store the admin is for, only when the caller may run it: the public read gives its name and slug, and an
 * owner-only read (its first stock line) answers 404 for anyone else's store, so another merchant is told at once
 * rather than section by section.
 */
export function useOwnStore(storeId: string) {
  return useQuery({
    queryKey: ['own-store', storeId],
    queryFn: async () => {
      const [store] = await Promise.all([
        unwrap(api.GET('/v1/stores/{store_id}', { params: { path: { store_id: storeId } } })),
        unwrap(api.GET('/v1/stores/{store_id}/inventory', { params: { path: { store_id: storeId }, query: { limit: 1 } } })),
      ]);
      return store;
    },
  });
}

export function useStoreProducts(storeId: string, status: 'active' | 'draft' | 'archived') {
  return usePages(merchantKeys.products(storeId, status), (cursor) =>
    unwrap(api.GET('/v1/stores/{store_id}/products', { params: { path: { store_id: storeId }, query: { status, limit: PAGE, cursor } } })),
  );
}

export function useInventory(storeId: string) {
  return usePages(
    merchantKeys.inventory(storeId),
    (cursor) => unwrap(api.GET('/v1/stores/{store_id}/inventory', { params: { path: { store_id: storeId }, query: { limit: PAGE, cursor } } })),
    LIVE,
  );
}

export function useStoreOrders(storeId: string, status: OrderStatus | '') {
  return usePages(
    merchantKeys.orders(storeId, status),
    (cursor) => unwrap(api.GET('/v1/stores/{store_id}/orders', { params: { path: { store_id: storeId }, query: { limit: PAGE, cursor, ...(status ? { status } : {}) } } })),
    LIVE,
  );
}

export function useStoreDrops(storeId: string) {
  return usePages(
    merchantKeys.drops(storeId),
    (cursor) => unwrap(api.GET('/v1/stores/{store_id}/drops', { params: { path: { store_id: storeId }, query: { limit: PAGE, cursor } } })),
    LIVE,
  );
}

export function usePlans() {
  return useQuery({ queryKey: ['plans'], queryFn: () => unwrap(api.GET('/v1/plans')), staleTime: 5 * 60_000 });
}

/** The store's subscription, or null when it has none (404: the API answers an unknown store the same way). */
export function useSubscription(storeId: string) {
  return useQuery({
    queryKey: merchantKeys.subscription(storeId),
    queryFn: async (): Promise<Subscription | null> => {
      const res = await api.GET('/v1/stores/{store_id}/subscription', { params: { path: { store_id: storeId } } });
      if (res.response.status === 404) return null;
      return unwrap(Promise.resolve(res));
    },
  });
}

/** The credit notes (refunds) against a receipt, oldest first. */
export function useReceiptCredits(invoiceId: string | undefined) {
  return useQuery({
    queryKey: ['invoice', invoiceId],
    enabled: invoiceId !== undefined,
    queryFn: () => unwrap(api.GET('/v1/invoices/{id}', { params: { path: { id: invoiceId! } } })),
  });
}

/** The steps a store owner may move an order along (src/domain/orders.ts): the API refuses any other. */
export const NEXT_STATUSES: Record<OrderStatus, OrderStatus[]> = {
  pending: [],
  confirmed: ['processing', 'cancelled'],
  processing: ['shipped', 'cancelled'],
  shipped: ['delivered'],
  delivered: [],
  cancelled: [],
};

export const ORDER_STATUSES: OrderStatus[] = ['pending', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled'];
