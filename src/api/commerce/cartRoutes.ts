import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import { Problem, problems } from '../http/problem';
import type { AppDeps } from '../deps';
import type { Principal } from '../../domain/roles';
import { findStore } from '../../commerce/catalog';
import { HotStock } from '../../commerce/hotStock';
import { cartTtlMs, changeLines, createCart, loadCart, type CartDoc, type StoredCart } from '../../commerce/carts';
import {
  extendCart,
  heldLines,
  InsufficientStockError,
  releaseCart,
  reserve,
  setQuantity,
  UnknownVariantError,
} from '../../commerce/reservations';
import { TemporalTimeoutError } from '../../temporal/client';
import { touchCartWorkflow } from '../../commerce/cartTimer';

/**
 * Carts: a document per cart in Redis (what the shopper wants, at which price), stock holds in Postgres (the
 * truth), and a workflow per cart (`cart:<id>`) that returns the holds to stock RESERVATION_TTL after the
 * cart's last activity. Guests may have carts (addressed by their unguessable id); a signed-in shopper's cart
 * is theirs alone, and answers anyone else like an unknown id (404).
 *
 * Order of every change: signal (or start) the cart's workflow first, then take stock, so a hold never exists
 * without the timer that will release it; then move every hold of the cart to the new expiry; then the document.
 */

const MAX_LINE_QUANTITY = 100;

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

interface VariantForSale {
  id: string;
  status: string;
  price_cents: number;
  hot: boolean;
}

export function registerCartRoutes(api: Api, deps: AppDeps): void {
  const { db, redis, config } = deps;
  /** Redis pre-filter for hot (flash-sale) variants; Postgres stays the final gate. */
  const hotStock = new HotStock(redis, db, deps.logger);

  /** The cart, when the caller may see it: a signed-in owner's cart is theirs alone; a guest cart is anyone's who has the id. */
  async function accessibleCart(cartId: string, principal: Principal | undefined): Promise<StoredCart> {
    const cart = await loadCart(redis, cartId);
    if (!cart || (cart.doc.owner_id !== null && cart.doc.owner_id !== principal?.id)) throw problems.notFound('cart');
    return cart;
  }

  async function variantForSale(storeId: string, variantId: string): Promise<VariantForSale> {
    const row = (await db('variants as v')
      .join('products as p', function () {
        this.on('p.id', '=', 'v.product_id').andOn('p.store_id', '=', 'v.store_id');
      })
      .where({ 'v.id': variantId, 'v.store_id': storeId })
      .first('v.id', 'p.status', 'v.hot', db.raw('p.base_price_cents + v.price_modifier_cents AS price_cents'))) as VariantForSale | undefined;
    // Another store's variant is the same 404 as none (DESIGN.md, invariant 4); so is a draft product.
    if (!row || row.status === 'draft') throw problems.notFound('variant in this store');
    if (row.status !== 'active') throw problems.unprocessable('product_unavailable', 'This product is no longer for sale.', { variant_id: variantId });
    return { ...row, price_cents: Number(row.price_cents) };
  }

  async function render(cart: StoredCart) {
    const held = await heldLines(db, cart.doc.id);
    const items = cart.doc.items.map((i) => ({
      variant_id: i.variant_id,
      quantity: i.quantity,
      unit_price_cents: i.unit_price_cents,
      line_total_cents: i.quantity * i.unit_price_cents,
      reserved_until: held.get(i.variant_id)?.expires_at.toISOString() ?? null,
    }));
    return {
      id: cart.doc.id,
      store_id: cart.doc.store_id,
      currency: cart.doc.currency,
      items,
      subtotal_cents: items.reduce((s, i) => s + i.line_total_cents, 0),
      expires_at: cart.expiresAt.toISOString(),
    };
  }

  /** Starts the cart's workflow, or restarts its countdown: every cart change calls this before touching stock. */
  async function touchWorkflow(doc: CartDoc, items: Array<{ variant_id: string; quantity: number }>): Promise<void> {
    try {
      await touchCartWorkflow(deps, doc, items);
    } catch (err) {
      if (err instanceof TemporalTimeoutError) throw err;
      throw new Problem(503, 'workflow_unavailable', 'Service unavailable', 'The cart could not be updated right now; retry shortly. Retrying is safe.', {}, { 'Retry-After': '5' });
    }
  }

  const lines = (doc: CartDoc, variantId: string, quantity: number) => {
    const others = doc.items.filter((i) => i.variant_id !== variantId).map((i) => ({ variant_id: i.variant_id, quantity: i.quantity }));
    return quantity > 0 ? [...others, { variant_id: variantId, quantity }] : others;
  };

  const insufficient = (err: InsufficientStockError) =>
    problems.conflict('insufficient_stock', `Only ${err.available} unit(s) are available.`, { variant_id: err.variantId, available: err.available });

  /** After a stock change: every hold of the cart moves to the new expiry, and the document follows. */
  async function finish(cart: StoredCart, mode: 'add' | 'set', variantId: string, quantity: number, unitPriceCents: number) {
    await extendCart(db, cart.doc.id, new Date(Date.now() + config.RESERVATION_TTL));
    const updated = await changeLines(redis, cart.doc.id, mode, [{ variantId, quantity, unitPriceCents }], cartTtlMs(config, cart.doc.owner_id));
    if (!updated) {
      // The document expired in between: nothing may stay held for a cart no one can see.
      await releaseCart(db, cart.doc.id, hotStock);
      throw problems.notFound('cart');
    }
    return { status: 200, body: await render(updated) };
  }

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
    async ({ body, principal }) => {
      const store = await findStore(db, body.store_id);
      if (!store) throw problems.notFound('store');
      const ownerId = principal?.id ?? null;
      const cart = await createCart(
        redis,
        {
          id: randomUUID(),
          store_id: store.id,
          store_slug: store.slug,
          currency: store.currency,
          owner_id: ownerId,
          items: [],
          created_at: new Date().toISOString(),
        },
        cartTtlMs(config, ownerId),
      );
      return { status: 201, body: await render(cart) };
    },
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
    async ({ params, principal }) => ({ status: 200, body: await render(await accessibleCart(params.cart_id, principal)) }),
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
    async ({ params, body, principal }) => {
      const cart = await editableCart(params.cart_id, principal);
      const variant = await variantForSale(cart.doc.store_id, body.variant_id);
      const line = cart.doc.items.find((i) => i.variant_id === body.variant_id);
      const target = (line?.quantity ?? 0) + body.quantity;
      if (target > MAX_LINE_QUANTITY) {
        throw problems.unprocessable('quantity_limit', `At most ${MAX_LINE_QUANTITY} units per line.`, { variant_id: body.variant_id, max: MAX_LINE_QUANTITY });
      }
      if (variant.hot) {
        // A sold-out flash sale turns its crowd away here: no cart workflow, no Postgres (the take below re-checks).
        const free = await hotStock.peek(body.variant_id);
        if (free !== undefined && free < body.quantity) throw insufficient(new InsufficientStockError(body.variant_id, Math.max(0, free)));
      }
      await touchWorkflow(cart.doc, lines(cart.doc, body.variant_id, target));
      try {
        await reserve(db, {
          storeId: cart.doc.store_id,
          cartId: cart.doc.id,
          variantId: body.variant_id,
          quantity: body.quantity,
          expiresAt: new Date(Date.now() + config.RESERVATION_TTL),
          hot: variant.hot,
        }, hotStock);
      } catch (err) {
        if (err instanceof InsufficientStockError) throw insufficient(err);
        if (err instanceof UnknownVariantError) throw problems.notFound('variant in this store');
        throw err;
      }
      return finish(cart, 'add', body.variant_id, body.quantity, line?.unit_price_cents ?? variant.price_cents);
    },
  );

  /**
   * A cart whose lines the shopper may change. A drop's cart is not one: its single unit is the drop's, at the
   * drop's price, for one admission or one win; more units, or activity that keeps pushing the hold back, would
   * let one shopper keep a slot others are waiting for. It is checked out as it is, or given up through the drop.
   */
  async function editableCart(cartId: string, principal: Principal | undefined) {
    const cart = await accessibleCart(cartId, principal);
    if (cart.doc.drop_id) {
      throw problems.conflict('drop_cart_locked', "This cart holds a drop's unit and cannot be changed; check it out as it is, or give it up through the drop.", {
        cart_id: cart.doc.id,
        drop_id: cart.doc.drop_id,
      });
    }
    return cart;
  }

  async function setLine(cartId: string, variantId: string, quantity: number, principal: Principal | undefined) {
    const cart = await editableCart(cartId, principal);
    const line = cart.doc.items.find((i) => i.variant_id === variantId);
    let unitPrice = line?.unit_price_cents ?? 0;
    if (quantity > 0) {
      const held = (await heldLines(db, cartId)).get(variantId)?.quantity ?? 0;
      // Raising a line (or holding an unheld one again) needs a variant that is still for sale.
      if (quantity > held || !line) {
        const variant = await variantForSale(cart.doc.store_id, variantId);
        unitPrice = line?.unit_price_cents ?? variant.price_cents;
      }
      if (!line) throw problems.notFound('line in this cart');
    }
    await touchWorkflow(cart.doc, lines(cart.doc, variantId, quantity));
    try {
      await setQuantity(db, {
        storeId: cart.doc.store_id,
        cartId: cart.doc.id,
        variantId,
        quantity,
        expiresAt: new Date(Date.now() + config.RESERVATION_TTL),
      }, hotStock);
    } catch (err) {
      if (err instanceof InsufficientStockError) throw insufficient(err);
      if (err instanceof UnknownVariantError) throw problems.notFound('variant in this store');
      throw err;
    }
    return finish(cart, 'set', variantId, quantity, unitPrice);
  }

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
    async ({ params, body, principal }) => setLine(params.cart_id, params.variant_id, body.quantity, principal),
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
    async ({ params, principal }) => setLine(params.cart_id, params.variant_id, 0, principal),
  );
}
