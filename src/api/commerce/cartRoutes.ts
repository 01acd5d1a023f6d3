import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import type { AppDeps } from '../deps';
import { requirePrincipal } from '../../accounts/authorization';
import { createCartService, MAX_LINE_QUANTITY } from '../../commerce/carts';

/**
 * Carts (src/commerce/carts.ts): a document per cart in Redis, stock holds in Postgres, and the hold-expiry
 * sweepers (src/workflows/commerce/holdExpiry.ts) that return holds to stock RESERVATION_TTL after the cart's
 * last activity; an add never waits on Temporal. Guests may have carts; a signed-in shopper's cart is theirs
 * alone, and answers anyone else like an unknown id (404).
 */

const CreateCartBody = z.strictObject({ store_id: z.uuid() }).openapi('CreateCartRequest');
const AddItemBody = z
  .strictObject({
    variant_id: z.uuid(),
    quantity: z.number().int().min(1).max(MAX_LINE_QUANTITY),
  })
  .openapi('AddCartItemRequest');
const SetItemBody = z
  .strictObject({ quantity: z.number().int().min(0).max(MAX_LINE_QUANTITY).openapi({ description: '0 removes the line' }) })
  .openapi('UpdateCartItemRequest');
const ItemParams = z.object({ cart_id: z.uuid(), variant_id: z.uuid() });

const CartItemSchema = z.object({
  variant_id: z.uuid(),
  quantity: z.number().int(),
  unit_price_cents: z.number().int().openapi({ description: 'The price when the line was added' }),
  line_total_cents: z.number().int(),
  reserved_until: z.iso.datetime().nullable().openapi({ description: 'When the hold on this line ends unless the cart is touched; null: not held' }),
});
const CartSchema = z
  .object({
    id: z.uuid(),
    store_id: z.uuid(),
    currency: z.string(),
    items: z.array(CartItemSchema),
    subtotal_cents: z.number().int(),
    expires_at: z.iso.datetime().openapi({ description: 'When the cart itself is forgotten unless touched' }),
  })
  .openapi('Cart');

const described = (description: string) => ({ description });

export function registerCartRoutes(api: Api, deps: AppDeps): void {
  const carts = createCartService(deps);

  api.route(
    {
      method: 'post',
      path: '/v1/carts',
      operationId: 'createCart',
      summary: 'Open a cart in a store (guests too: then the id is the key to it)',
      tags: ['carts'],
      auth: 'optional',
      body: CreateCartBody,
      responses: { 201: { description: 'Created, empty', schema: CartSchema }, 404: described('No such store') },
    },
    async ({ body, principal }) => ({ status: 201, body: await carts.open(body.store_id, principal?.id) }),
  );

  api.route(
    {
      method: 'get',
      path: '/v1/carts/{cart_id}',
      operationId: 'getCart',
      summary: 'A cart with its lines, how long each is held, and totals',
      tags: ['carts'],
      auth: 'optional',
      params: uuidParam('cart_id'),
      responses: { 200: { description: 'The cart', schema: CartSchema }, 404: described('No such cart, expired, or not yours') },
    },
    async ({ params, principal }) => ({ status: 200, body: await carts.read(params.cart_id, principal?.id) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/carts/{cart_id}/claim',
      operationId: 'claimCart',
      summary: 'Make a guest cart the signed-in shopper’s (as they sign in with items in it): then only their token opens it',
      tags: ['carts'],
      auth: 'user',
      params: uuidParam('cart_id'),
      responses: {
        200: { description: 'The cart, now the caller’s (the caller’s own cart answers as it is)', schema: CartSchema },
        404: described('No such cart, expired, or another account’s'),
      },
    },
    async ({ params, principal }) => ({ status: 200, body: await carts.claim(params.cart_id, requirePrincipal(principal).id) }),
  );

  api.route(
    {
      method: 'post',
      path: '/v1/carts/{cart_id}/items',
      operationId: 'addCartItem',
      summary: 'Add units of a variant to a cart; they are held for RESERVATION_TTL from the last cart activity',
      tags: ['carts'],
      auth: 'optional',
      params: uuidParam('cart_id'),
      body: AddItemBody,
      responses: {
        200: { description: 'The cart', schema: CartSchema },
        404: described('No such cart (or not yours), or no such variant in the cart’s store'),
        409: described('`insufficient_stock` with `variant_id` and `available`; `drop_cart_locked` (a drop’s cart)'),
        422: described('`product_unavailable` (archived), or `quantity_limit` (more than 100 units on one line)'),
      },
    },
    async ({ params, body, principal }) => ({ status: 200, body: await carts.addItem(params.cart_id, body.variant_id, body.quantity, principal?.id) }),
  );

  api.route(
    {
      method: 'patch',
      path: '/v1/carts/{cart_id}/items/{variant_id}',
      operationId: 'updateCartItem',
      summary: "Change a line's quantity (0 removes it); lowering returns units to stock at once",
      tags: ['carts'],
      auth: 'optional',
      params: ItemParams,
      body: SetItemBody,
      responses: {
        200: { description: 'The cart', schema: CartSchema },
        404: described('No such cart (or not yours), or no such line in it'),
        409: described('`insufficient_stock` with `variant_id` and `available` (raising); `drop_cart_locked` (a drop’s cart)'),
        422: described('`product_unavailable` (raising a line of an archived product)'),
      },
    },
    async ({ params, body, principal }) => ({ status: 200, body: await carts.setLine(params.cart_id, params.variant_id, body.quantity, principal?.id) }),
  );

  api.route(
    {
      method: 'delete',
      path: '/v1/carts/{cart_id}/items/{variant_id}',
      operationId: 'removeCartItem',
      summary: 'Remove a line; its units return to stock at once (removing an absent line changes nothing)',
      tags: ['carts'],
      auth: 'optional',
      params: ItemParams,
      responses: {
        200: { description: 'The cart', schema: CartSchema },
        404: described('No such cart (or not yours), or no such variant in its store'),
        409: described('`drop_cart_locked` (a drop’s cart)'),
      },
    },
    async ({ params, principal }) => ({ status: 200, body: await carts.setLine(params.cart_id, params.variant_id, 0, principal?.id) }),
  );
}
