import { createHash } from 'node:crypto';
import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import { Address, OrderSchema } from './orderSchemas';
import { checkoutRuns } from './checkoutRuns';
import { Problem, problems } from '../http/problem';
import type { AppDeps } from '../deps';
import type { Principal } from '../../domain/roles';
import { changeLines, loadCart } from '../../commerce/carts';
import { type CheckoutInput, type CheckoutResult } from '../../commerce/contract';

/**
 * Checkout and orders. POST /v1/checkout runs one workflow per (caller, Idempotency-Key): `checkout:<key>`,
 * whose id is derived from both, started with USE_EXISTING so a double click attaches to the running checkout
 * and REJECT_DUPLICATE so a finished one is never run again (its result is read instead). Orders are read by
 * their customer or their store's owner; anyone else gets 404.
 */

const CheckoutBody = z
  .strictObject({
    cart_id: z.uuid(),
    shipping_address: Address,
    payment_method: z
      .string()
      .regex(/^pm_[A-Za-z0-9_]{1,200}$/)
      .openapi({ description: 'A provider payment method token (pm_...)' }),
    billing_address: Address.optional(),
  })
  .openapi('CheckoutRequest');

const described = (description: string) => ({ description });

interface OrderRow {
  id: string;
  store_id: string;
  customer_id: string | null;
  status: string;
  currency: string;
  subtotal_cents: string | number;
  total_cents: string | number;
  shipping_address: Record<string, unknown>;
  billing_address: Record<string, unknown> | null;
  created_at: Date;
}

/** The caller-scoped checkout key: the same Idempotency-Key from two callers is two checkouts. */
export function checkoutKeyFor(principal: Principal | undefined, ip: string | undefined, idempotencyKey: string): string {
  const scope = principal ? `user:${principal.id}` : `guest:${ip ?? 'unknown'}`;
  return createHash('sha256').update(`${scope}\n${idempotencyKey}`).digest('hex');
}

export function registerCheckoutRoutes(api: Api, deps: AppDeps): void {
  const { db, redis, config } = deps;

  async function renderOrder(orderId: string) {
    const order = (await db('orders').where({ id: orderId }).first()) as OrderRow | undefined;
    if (!order) throw problems.notFound('order');
    const items = (await db('order_items').where({ order_id: orderId }).orderBy('id').select('variant_id', 'sku', 'name', 'quantity', 'unit_price_cents')) as Array<{
      variant_id: string;
      sku: string;
      name: string;
      quantity: number;
      unit_price_cents: string | number;
    }>;
    const history = (await db('order_status_history').where({ order_id: orderId }).orderBy('id').select('from_status', 'to_status', 'actor', 'reason', 'created_at')) as Array<{
      from_status: string | null;
      to_status: string;
      actor: string;
      reason: string | null;
      created_at: Date;
    }>;
    return {
      id: order.id,
      store_id: order.store_id,
      customer_id: order.customer_id,
      status: order.status,
      currency: order.currency,
      items: items.map((i) => ({ ...i, unit_price_cents: Number(i.unit_price_cents), line_total_cents: i.quantity * Number(i.unit_price_cents) })),
      subtotal_cents: Number(order.subtotal_cents),
      total_cents: Number(order.total_cents),
      shipping_address: order.shipping_address,
      billing_address: order.billing_address,
      status_history: history.map((h) => ({ from_status: h.from_status, to_status: h.to_status, actor: h.actor, reason: h.reason, at: h.created_at.toISOString() })),
      created_at: order.created_at.toISOString(),
    };
  }

  const runs = checkoutRuns(deps);

  /** The checkout's result: 201 order, or the problem its outcome stands for. */
  async function answer(result: CheckoutResult, cartId?: string) {
    if (result.status === 'confirmed') return { status: 201, body: await renderOrder(result.orderId) };
    if (result.status === 'insufficient_stock') {
      throw problems.conflict('insufficient_stock', 'Some items of the cart are no longer held for it as they were checked out (released, or their quantity changed meanwhile); nothing was charged. Review the cart and check out again.', {
        items: result.items.map((i) => ({ variant_id: i.variant_id, requested: i.requested, available: i.held })),
      });
    }
    if (result.status === 'price_changed') {
      // The cart shows the prices it would be sold at now, so the shopper can review them and check out again.
      const repriced = result.items.filter((i) => i.current_unit_price_cents !== null);
      if (repriced.length && cartId) {
        await changeLines(redis, cartId, 'price', repriced.map((i) => ({ variantId: i.variant_id, quantity: 0, unitPriceCents: i.current_unit_price_cents! })), 0);
      }
      throw problems.conflict('price_changed', 'Prices changed since these items were added; the cart now shows the current prices. Review it and check out again (with a new Idempotency-Key).', {
        items: result.items,
      });
    }
    if (result.status === 'expired') {
      throw problems.unprocessable('checkout_expired', 'The checkout could not finish while your items were held; the payment was voided and the items released (they left the cart). Add them again to retry.');
    }
    if (result.code === 'payment_method_rejected') {
      throw problems.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${result.message ?? 'no reason given'}`, {
        reason: result.declineCode,
      });
    }
    if (result.code === 'payment_not_captured') {
      throw new Problem(402, 'payment_not_captured', 'Payment not captured', 'The payment could not be taken (the card’s hold lapsed or was cancelled). Nothing was charged, the order was cancelled and the items were released; add them again to check out.', {
        decline_code: result.declineCode,
      });
    }
    if (result.code === 'requires_action') {
      throw new Problem(402, 'requires_action', 'Payment requires action', 'The card needs authentication; complete it and check out again.', {
        next_action: { client_secret: result.clientSecret },
      });
    }
    throw new Problem(402, 'payment_declined', 'Payment declined', 'The card was declined; your items stay reserved, try another card.', {
      decline_code: result.declineCode,
    });
  }

  api.route(
    {
      method: 'post',
      path: '/v1/checkout',
      operationId: 'checkout',
      summary: 'Check a cart out: authorize, create the order, sell the held stock, capture (once per Idempotency-Key)',
      tags: ['orders'],
      auth: 'optional',
      idempotency: 'required',
      body: CheckoutBody,
      responses: {
        201: { description: 'The order, confirmed and paid', schema: OrderSchema },
        402: described('`payment_declined` (with `decline_code`) or `requires_action` (with `next_action.client_secret`); the items stay held. Or `payment_not_captured` (the hold could not be captured: order cancelled, items released)'),
        404: described('Not your cart'),
        409: described('`insufficient_stock` with `items[]` no longer held, or `price_changed` with `items[]` (cart and current unit price; the cart is repriced)'),
        422: described(
          '`cart_expired` (the cart is gone), `cart_empty`, `checkout_expired` (could not finish while the items were held: voided and released), or `payment_method_rejected` (refused by the provider, with `reason`; the items stay held)',
        ),
      },
    },
    async ({ req, body, principal }) => {
      const key = req.get('idempotency-key')!;
      const checkoutKey = checkoutKeyFor(principal, req.ip, key);

      const cart = await loadCart(redis, body.cart_id);
      if (cart && cart.doc.owner_id !== null && cart.doc.owner_id !== principal?.id) throw problems.notFound('cart');
      if (!cart || !cart.doc.items.length) {
        // A checkout of this cart under this key that already ran (and emptied it) answers with its own outcome;
        // one of another cart is not this request's answer (its idempotency record expired, say).
        if ((await runs.cartOf(checkoutKey)) === body.cart_id) return answer(await runs.result(checkoutKey));
        if (!cart) throw problems.unprocessable('cart_expired', 'The cart has expired; its items are no longer held.', { cart_id: body.cart_id });
        throw problems.unprocessable('cart_empty', 'The cart has no items.', { cart_id: body.cart_id });
      }

      const input: CheckoutInput = {
        checkoutKey,
        cartId: cart.doc.id,
        storeId: cart.doc.store_id,
        customerId: principal?.id ?? null,
        items: cart.doc.items.map((i) => ({ variant_id: i.variant_id, quantity: i.quantity, unit_price_cents: i.unit_price_cents })),
        currency: cart.doc.currency,
        paymentMethod: body.payment_method,
        shippingAddress: body.shipping_address,
        billingAddress: body.billing_address ?? null,
        holdMs: config.RESERVATION_TTL,
        paymentStepMs: config.PAYMENT_STEP_TIMEOUT,
        dropId: cart.doc.drop_id ?? null,
      };
      return answer(await runs.run(input, `Checkout of cart ${input.cartId} at store ${cart.doc.store_slug}`), input.cartId);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/v1/orders/{order_id}',
      operationId: 'getOrder',
      summary: 'An order with its items, status, status history and totals (its customer or the store owner)',
      tags: ['orders'],
      auth: 'user',
      params: uuidParam('order_id'),
      responses: { 200: { description: 'The order', schema: OrderSchema }, 404: described('No such order, or not yours') },
    },
    async ({ params, principal }) => {
      const row = (await db('orders as o')
        .join('stores as s', 's.id', 'o.store_id')
        .where('o.id', params.order_id)
        .first('o.customer_id', 's.owner_id')) as { customer_id: string | null; owner_id: string } | undefined;
      if (!row || (row.customer_id !== principal?.id && row.owner_id !== principal?.id)) throw problems.notFound('order');
      return { status: 200, body: await renderOrder(params.order_id) };
    },
  );
}
