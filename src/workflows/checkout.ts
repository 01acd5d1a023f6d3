import {
  ActivityFailure,
  ApplicationFailure,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../activities';
import { OrderId } from '../temporal/searchAttributes';
import { paymentsTaskQueue } from '../temporal/taskQueues';
import { cartClosedSignal, cartWorkflowId } from './cartReservations';

/**
 * One checkout (`checkout:<key>`, the key being the caller-scoped Idempotency-Key): confirm the cart's holds →
 * authorize → create the order → commit the holds to sold → capture → close the cart. A compensation is
 * registered before each risky step and they run newest first when a later step fails. A declined card (or one
 * that needs authentication) voids what was done but keeps the holds, so the shopper can retry within the TTL.
 */

export interface CheckoutAddress {
  line1: string;
  line2?: string;
  city: string;
  postal_code: string;
  country: string;
  region?: string;
}

export interface CheckoutInput {
  checkoutKey: string;
  cartId: string;
  storeId: string;
  customerId: string | null;
  items: Array<{ variant_id: string; quantity: number; unit_price_cents: number }>;
  currency: string;
  paymentMethod: string;
  shippingAddress: CheckoutAddress;
  billingAddress: CheckoutAddress | null;
  /** How long the holds are kept at least while the checkout runs (RESERVATION_TTL). */
  holdMs?: number;
}

export type CheckoutResult =
  | { status: 'confirmed'; orderId: string }
  | { status: 'payment_failed'; code: 'payment_declined' | 'requires_action'; declineCode: string | null; clientSecret: string | null }
  | { status: 'insufficient_stock'; items: Array<{ variant_id: string; requested: number; held: number }> };

export const checkoutWorkflowId = (checkoutKey: string) => `checkout:${checkoutKey}`;
export const checkoutPaymentKey = (checkoutKey: string) => `checkout:${checkoutKey}:authorize`;

const {
  confirmCheckoutReservations,
  createCheckoutOrder,
  cancelCheckoutOrder,
  commitCheckoutReservations,
  uncommitCheckoutReservations,
  emptyCheckoutCart,
} = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

const DEFAULT_HOLD_MS = 15 * 60_000;

/** The typed business failure behind an activity failure, if any. */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

export async function checkout(input: CheckoutInput): Promise<CheckoutResult> {
  const { authorizePayment, capturePayment, cancelPayment } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', maximumInterval: '1 minute' },
  });

  const paymentKey = checkoutPaymentKey(input.checkoutKey);
  const amountCents = input.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0);
  let orderId: string | null = null;
  const step = (name: string) =>
    setCurrentDetails(
      [
        `**${name}** — checkout of cart ${input.cartId} at store ${input.storeId}`,
        `amount: ${amountCents} ${input.currency} (${input.items.length} line(s)); payment key: ${paymentKey}`,
        `order: ${orderId ?? 'not yet'}`,
      ].join('\n'),
    );

  step('confirming reservations');
  const held = await confirmCheckoutReservations({ cartId: input.cartId, storeId: input.storeId, items: input.items, holdMs: input.holdMs ?? DEFAULT_HOLD_MS });
  if (!held.ok) {
    step('insufficient stock');
    return { status: 'insufficient_stock', items: held.missing };
  }

  // Newest first; each is idempotent and tolerant of a step that never happened.
  const compensations: Array<{ name: string; run: () => Promise<unknown> }> = [];
  const compensate = async () => {
    for (const c of compensations.splice(0).reverse()) {
      try {
        await c.run();
      } catch (err) {
        log.warn('checkout compensation failed', { step: c.name, error: String(err) });
      }
    }
  };

  try {
    compensations.push({ name: 'void payment', run: () => cancelPayment({ businessKey: paymentKey }) });
    step('authorizing payment');
    await authorizePayment({
      businessKey: paymentKey,
      amountCents,
      currency: input.currency,
      paymentMethod: input.paymentMethod,
      customerRef: input.customerId ?? undefined,
      description: `Order at store ${input.storeId}`,
      metadata: { checkout_key: input.checkoutKey, cart_id: input.cartId, store_id: input.storeId },
    });

    compensations.push({ name: 'cancel order', run: () => cancelCheckoutOrder({ checkoutKey: input.checkoutKey, reason: 'checkout failed' }) });
    step('creating order');
    const order = await createCheckoutOrder({
      checkoutKey: input.checkoutKey,
      cartId: input.cartId,
      storeId: input.storeId,
      customerId: input.customerId,
      currency: input.currency,
      items: input.items,
      shippingAddress: { ...input.shippingAddress },
      billingAddress: input.billingAddress ? { ...input.billingAddress } : null,
      paymentKey,
    });
    orderId = order.orderId;
    upsertSearchAttributes([{ key: OrderId, value: orderId }]);

    compensations.push({ name: 'restock', run: () => uncommitCheckoutReservations({ storeId: input.storeId, reservationIds: held.reservationIds }) });
    step('committing reservations');
    await commitCheckoutReservations({ storeId: input.storeId, reservationIds: held.reservationIds });

    step('capturing payment');
    await capturePayment({ businessKey: paymentKey });
    // The money is taken: from here on the checkout only goes forward.
    compensations.splice(0);
  } catch (err) {
    step('compensating');
    await compensate();
    const failure = businessFailure(err);
    if (failure?.type === 'PaymentDeclined' || failure?.type === 'PaymentActionRequired') {
      const details = (failure.details?.[0] ?? {}) as { declineCode?: string | null; failureCode?: string | null; clientSecret?: string };
      step(failure.type === 'PaymentDeclined' ? 'payment declined' : 'payment requires action');
      return {
        status: 'payment_failed',
        code: failure.type === 'PaymentDeclined' ? 'payment_declined' : 'requires_action',
        declineCode: details.declineCode ?? details.failureCode ?? null,
        clientSecret: details.clientSecret ?? null,
      };
    }
    if (failure?.type === 'ReservationsLost') {
      step('insufficient stock');
      return { status: 'insufficient_stock', items: input.items.map((i) => ({ variant_id: i.variant_id, requested: i.quantity, held: 0 })) };
    }
    throw err;
  }

  step('closing cart');
  await emptyCheckoutCart({ cartId: input.cartId, variantIds: input.items.map((i) => i.variant_id) });
  try {
    await getExternalWorkflowHandle(cartWorkflowId(input.cartId)).signal(cartClosedSignal);
  } catch (err) {
    // The cart's workflow may have ended already (nothing left to hold): nothing to close.
    log.info('cart workflow not signalled', { cartId: input.cartId, error: String(err) });
  }
  step('confirmed');
  return { status: 'confirmed', orderId: orderId! };
}
