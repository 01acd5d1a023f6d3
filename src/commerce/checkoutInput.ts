import { createHash } from 'node:crypto';
import type { Config } from '../config';
import type { Principal } from '../domain/roles';
import type { CheckoutAddress, CheckoutInput } from './contract';

/**
 * The one builder of a checkout workflow's input, for a cart checked out (POST /v1/checkout) and for a drop's
 * claim alike: the timings come from configuration here, so the two can never disagree about them.
 */

/** A checkout's input without its timings, which come from configuration. */
export type CheckoutRequest = Omit<CheckoutInput, 'holdMs' | 'paymentStepMs' | 'billingAddress'> & { billingAddress?: CheckoutAddress | null };

export function checkoutInput(config: Pick<Config, 'RESERVATION_TTL' | 'PAYMENT_STEP_TIMEOUT'>, r: CheckoutRequest): CheckoutInput {
  return {
    checkoutKey: r.checkoutKey,
    cartId: r.cartId,
    storeId: r.storeId,
    customerId: r.customerId,
    customerEmail: r.customerEmail ?? null,
    items: r.items.map((i) => ({ variant_id: i.variant_id, quantity: i.quantity, unit_price_cents: i.unit_price_cents })),
    currency: r.currency,
    paymentMethod: r.paymentMethod,
    shippingAddress: r.shippingAddress,
    billingAddress: r.billingAddress ?? null,
    holdMs: config.RESERVATION_TTL,
    paymentStepMs: config.PAYMENT_STEP_TIMEOUT,
    dropId: r.dropId ?? null,
  };
}

/** The caller-scoped checkout key: the same Idempotency-Key from two callers is two checkouts. */
export function checkoutKeyFor(principal: Principal | undefined, ip: string | undefined, idempotencyKey: string): string {
  const scope = principal ? `user:${principal.id}` : `guest:${ip ?? 'unknown'}`;
  return createHash('sha256').update(`${scope}\n${idempotencyKey}`).digest('hex');
}
