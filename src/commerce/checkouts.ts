import type { Config } from '../config';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { RedisClient } from '../infra/redis';
import { changeLines, loadCart } from './cartDocuments';
import { mayUseCart } from './carts';
import { checkoutInput, checkoutKeyFor } from './checkoutInput';
import type { CheckoutAddress, CheckoutInput, CheckoutResult, PriceCheckResult } from './contract';

/**
 * Checking a cart out (POST /v1/checkout): one `checkout:<key>` workflow per (caller, Idempotency-Key), whose
 * outcome is the answer. The workflow is started and read through the caller's runner (the API's
 * src/api/commerce/checkoutRuns.ts), the one way checkouts are run from HTTP, drop claims included.
 */

/** Starts (or attaches to) and reads checkout workflows. */
export interface CheckoutRunner {
  /** Starts (or attaches to) the checkout and waits for its outcome. */
  run(input: CheckoutInput, staticSummary: string): Promise<CheckoutResult>;
  /** The outcome of the checkout under this key. */
  result(checkoutKey: string): Promise<CheckoutResult>;
  /** The cart the checkout under this key was started for; null when there is none. */
  cartOf(checkoutKey: string): Promise<string | null>;
}

export interface CartCheckoutRequest {
  caller: Principal | undefined;
  ip: string | undefined;
  idempotencyKey: string;
  cartId: string;
  paymentMethod: string;
  shippingAddress: CheckoutAddress;
  billingAddress?: CheckoutAddress;
  /** A guest's email, for the receipt (a signed-in caller's account gets it instead). */
  email?: string;
}

/** Lines the checkout found repriced take the current price, so the shopper reviews them and checks out again. */
async function repriceCart(redis: RedisClient, cartId: string, changed: PriceCheckResult['changed']): Promise<void> {
  const repriced = changed.filter((i) => i.current_unit_price_cents !== null);
  if (repriced.length) await changeLines(redis, cartId, 'price', repriced.map((i) => ({ variantId: i.variant_id, quantity: 0, unitPriceCents: i.current_unit_price_cents! })), 0);
}

/** The outcome of checking the cart out under the caller's key (a repeat reads the earlier outcome). */
export async function checkoutCart(deps: { config: Pick<Config, 'RESERVATION_TTL' | 'PAYMENT_STEP_TIMEOUT'>; redis: RedisClient }, runs: CheckoutRunner, r: CartCheckoutRequest): Promise<CheckoutResult> {
  const checkoutKey = checkoutKeyFor(r.caller, r.ip, r.idempotencyKey);
  const cart = await loadCart(deps.redis, r.cartId);
  if (cart && !mayUseCart(cart.doc, r.caller?.id)) throw refusals.notFound('cart');
  if (!cart || !cart.doc.items.length) {
    // A checkout of this cart under this key that already ran (and emptied it) answers with its own outcome;
    // one of another cart is not this request's answer (its idempotency record expired, say).
    if ((await runs.cartOf(checkoutKey)) === r.cartId) return runs.result(checkoutKey);
    if (!cart) throw refusals.unprocessable('cart_expired', 'The cart has expired; its items are no longer held.', { cart_id: r.cartId });
    throw refusals.unprocessable('cart_empty', 'The cart has no items.', { cart_id: r.cartId });
  }

  const input = checkoutInput(deps.config, {
    checkoutKey,
    cartId: cart.doc.id,
    storeId: cart.doc.store_id,
    customerId: r.caller?.id ?? null,
    customerEmail: r.caller ? null : (r.email ?? null),
    items: cart.doc.items,
    currency: cart.doc.currency,
    paymentMethod: r.paymentMethod,
    shippingAddress: r.shippingAddress,
    billingAddress: r.billingAddress,
    dropId: cart.doc.drop_id,
  });
  const result = await runs.run(input, `Checkout of cart ${input.cartId} at store ${cart.doc.store_slug}`);
  if (result.status === 'price_changed') await repriceCart(deps.redis, input.cartId, result.items);
  return result;
}
