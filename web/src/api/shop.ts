import { useQuery } from '@tanstack/react-query';
import { api, type Schemas } from './client';
import { unwrap } from '../lib/problem';
import { usePages } from '../lib/usePages';

export type Store = Schemas['StorefrontStore'];
export type Product = Schemas['Product'];
export type Variant = Schemas['Variant'];
export type Cart = Schemas['Cart'];
export type Order = Schemas['Order'];

export function useStorePages(q: string) {
  return usePages(['stores', q], (cursor) => unwrap(api.GET('/v1/stores', { params: { query: { q: q || undefined, limit: 48, cursor } } })));
}

export function useStoreBySlug(slug: string) {
  return useQuery({
    queryKey: ['store', slug],
    queryFn: () => unwrap(api.GET('/v1/stores/by-slug/{slug}', { params: { path: { slug } } })),
  });
}

export function useProducts(storeId: string | undefined, filters: { q?: string; category?: string }) {
  return useQuery({
    queryKey: ['products', storeId, filters],
    enabled: storeId !== undefined,
    queryFn: () => unwrap(api.GET('/v1/stores/{store_id}/products', { params: { path: { store_id: storeId! }, query: { ...filters, limit: 100 } } })),
  });
}

export function useProduct(storeId: string | undefined, productId: string) {
  return useQuery({
    queryKey: ['product', storeId, productId],
    enabled: storeId !== undefined,
    queryFn: () =>
      unwrap(api.GET('/v1/stores/{store_id}/products/{product_id}', { params: { path: { store_id: storeId!, product_id: productId }, query: { include_inventory: 'true' } } })),
  });
}

/**
 * The shopper's open cart per store, remembered in localStorage (the cart id is the key to a guest's cart);
 * forgotten when the API no longer knows it (expired, or another account's) and after checkout.
 */
const CART_KEY_PREFIX = 'pledgeflow.cart.';
const cartKey = (storeId: string) => `${CART_KEY_PREFIX}${storeId}`;
export const cartIds = {
  /** Every remembered cart, as [store id, cart id]. */
  all: (): Array<[string, string]> =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith(CART_KEY_PREFIX))
      .map((k) => [k.slice(CART_KEY_PREFIX.length), localStorage.getItem(k) ?? '']),
  get: (storeId: string) => localStorage.getItem(cartKey(storeId)) ?? undefined,
  set: (storeId: string, cartId: string) => localStorage.setItem(cartKey(storeId), cartId),
  forget: (storeId: string) => localStorage.removeItem(cartKey(storeId)),
};

/** The store's cart, or null when there is none (never opened, or the API forgot it: then the id is dropped). */
export function useCart(storeId: string | undefined) {
  return useQuery({
    queryKey: ['cart', storeId],
    enabled: storeId !== undefined,
    queryFn: async (): Promise<Cart | null> => {
      const id = cartIds.get(storeId!);
      if (!id) return null;
      const { data, error, response } = await api.GET('/v1/carts/{cart_id}', { params: { path: { cart_id: id } } });
      if (response.status === 404) {
        cartIds.forget(storeId!);
        return null;
      }
      return unwrap(Promise.resolve({ data, error, response }));
    },
  });
}

/**
 * As a shopper signs in, the carts they filled as a guest become theirs (so their items and holds carry over,
 * and the bare id no longer opens them); a cart the API no longer knows, or another account's, is forgotten.
 * Best effort: a cart that could not be claimed now stays a guest cart the shopper can still use.
 */
export async function keepGuestCarts(): Promise<void> {
  await Promise.all(
    cartIds.all().map(async ([storeId, cartId]) => {
      const { response } = await api.POST('/v1/carts/{cart_id}/claim', { params: { path: { cart_id: cartId } } }).catch(() => ({ response: undefined }));
      if (response?.status === 404 || response?.status === 400) cartIds.forget(storeId);
    }),
  );
}

/** The cart to add to: the remembered one, or a new one opened now. */
export async function openCart(storeId: string): Promise<string> {
  const known = cartIds.get(storeId);
  if (known) return known;
  const cart = await unwrap(api.POST('/v1/carts', { body: { store_id: storeId } }));
  cartIds.set(storeId, cart.id);
  return cart.id;
}

export function useMyOrderPages(enabled: boolean) {
  return usePages(['my-orders'], (cursor) => unwrap(api.GET('/v1/me/orders', { params: { query: { limit: 25, cursor } } })), { enabled });
}

export function useOrder(id: string, enabled: boolean) {
  return useQuery({ queryKey: ['order', id], enabled, queryFn: () => unwrap(api.GET('/v1/orders/{order_id}', { params: { path: { order_id: id } } })) });
}

/** "color: black, size: M" from a variant's attributes; the sku when it has none. */
export function variantLabel(v: Pick<Variant, 'attributes' | 'sku'>): string {
  const parts = Object.entries(v.attributes).map(([k, val]) => `${k}: ${String(val)}`);
  return parts.length > 0 ? parts.join(', ') : v.sku;
}
