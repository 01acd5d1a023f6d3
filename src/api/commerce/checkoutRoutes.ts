import { z } from 'zod';
import { uuidParam, type Api } from '../http/api';
import { Address, OrderSchema } from './orderSchemas';
import { checkoutAnswer } from './checkoutAnswers';
import { checkoutRuns } from './checkoutRuns';
import type { AppDeps } from '../deps';
import { checkoutCart } from '../../commerce/checkouts';
import { orderDetails, orderFor } from '../../commerce/orderViews';
import { PaymentMethodToken } from '../http/paymentMethodToken';

/**
 * Checkout and orders. POST /v1/checkout runs one workflow per (caller, Idempotency-Key): `checkout:<key>`
 * (src/commerce/checkouts.ts). Orders are read by their customer or their store's owner; anyone else gets 404.
 */

const CheckoutBody = z
  .strictObject({
    cart_id: z.uuid(),
    shipping_address: Address,
    payment_method: PaymentMethodToken,
    billing_address: Address.optional(),
    email: z.email().max(320).optional().openapi({ description: "A guest's email: the order's receipt is issued to it (ignored when signed in: the account gets it)" }),
  })
  .openapi('CheckoutRequest');

const described = (description: string) => ({ description });

export function registerCheckoutRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;
  const runs = checkoutRuns(deps);

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
      const result = await checkoutCart(deps, runs, {
        caller: principal,
        ip: req.ip,
        idempotencyKey: req.get('idempotency-key')!,
        cartId: body.cart_id,
        paymentMethod: body.payment_method,
        shippingAddress: body.shipping_address,
        billingAddress: body.billing_address,
        email: body.email,
      });
      return checkoutAnswer(result, 'cart', (orderId) => orderDetails(db, orderId));
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
    async ({ params, principal }) => ({ status: 200, body: await orderFor(db, params.order_id, principal?.id) }),
  );
}
