import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  log,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import { OrderId } from '../../temporal/searchAttributes';
import { paymentsTaskQueue } from '../../temporal/taskQueues';
import { type CheckoutInput, type CheckoutResult, type PriceCheckResult, checkoutPaymentKey } from '../../commerce/contract';

/**
 * One checkout (`checkout:<key>`, the key being the caller-scoped Idempotency-Key): confirm the cart's holds →
 * authorize → create the order → commit the holds to sold → capture → empty the cart. A compensation is
 * registered before each risky step and they run newest first when a later step fails. A declined card (or one
 * that needs authentication) voids what was done but keeps the holds, so the shopper can retry within the TTL.
 *
 * Prices are checked first: a line whose price changed since it was added is reported (`price_changed`), never
 * charged at either price. The order must be recorded while the holds last (holdMs from their confirmation):
 * when the workers are gone longer than that — killed after the authorization, say — the saga does not sell
 * stock it no longer holds; on resuming it gives the holds back, voids the authorization and ends `expired`.
 * An order insert still under way then is cancelled or refused, never left confirmed (see createCheckoutOrder).
 */

// Each database step is one short transaction: a worker that dies in one is noticed (and the step retried on
// another worker) within seconds, not minutes.
const dbSteps = { startToCloseTimeout: '15 seconds', retry: { initialInterval: '1s', maximumInterval: '30 seconds' } } as const;
const {
  checkCheckoutPrices,
  confirmCheckoutReservations,
  cancelCheckoutOrder,
  commitCheckoutReservations,
  uncommitCheckoutReservations,
  releaseCheckoutHolds,
  emptyCheckoutCart,
} = proxyActivities<Activities>(dbSteps);

const DEFAULT_HOLD_MS = 15 * 60_000;
const DEFAULT_PAYMENT_STEP_MS = 2 * 60_000;

/** Payment failure types that are the provider's answer about this payment (not an outage, not a bug here). */
const PAYMENT_REFUSALS: readonly string[] = ['PaymentDeclined', 'PaymentStateError', 'PaymentRequestError'];

/** The typed business failure behind an activity failure, if any. */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

export async function checkout(input: CheckoutInput): Promise<CheckoutResult> {
  const { authorizePayment, capturePayment, cancelPayment } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: input.paymentStepMs ?? DEFAULT_PAYMENT_STEP_MS,
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

  step('checking prices');
  const prices = await checkCheckoutPrices({ storeId: input.storeId, dropId: input.dropId ?? null, items: input.items });
  if (prices.changed.length) {
    step('prices changed');
    return { status: 'price_changed', items: prices.changed };
  }

  step('confirming reservations');
  const holdMs = input.holdMs ?? DEFAULT_HOLD_MS;
  const held = await confirmCheckoutReservations({ cartId: input.cartId, storeId: input.storeId, items: input.items, holdMs });
  if (!held.ok) {
    step('insufficient stock');
    return { status: 'insufficient_stock', items: held.missing };
  }
  const holdsEndAt = Date.now() + holdMs;

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

  let authorized = false;
  let capturing = false;
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
    authorized = true;

    compensations.push({ name: 'cancel order', run: () => cancelCheckoutOrder({ checkoutKey: input.checkoutKey, reason: 'checkout failed' }) });
    step('creating order');
    // Only while the holds last (see above); at least a second so a fast path is never cut short.
    const { createCheckoutOrder } = proxyActivities<Activities>({ ...dbSteps, scheduleToCloseTimeout: Math.max(1_000, holdsEndAt - Date.now()) });
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
      reservationIds: held.reservationIds,
    });
    orderId = order.orderId;
    upsertSearchAttributes([{ key: OrderId, value: orderId }]);

    // The commit claims the holds for this checkout (its key), so another checkout of the same cart can neither
    // sell them too nor, restocking after its own failure, give back what this one sold.
    compensations.push({
      name: 'restock',
      run: () => uncommitCheckoutReservations({ storeId: input.storeId, reservationIds: held.reservationIds, dropId: input.dropId ?? null, checkoutKey: input.checkoutKey }),
    });
    step('committing reservations');
    await commitCheckoutReservations({
      storeId: input.storeId,
      reservationIds: held.reservationIds,
      quantities: input.items.map((i) => i.quantity),
      dropId: input.dropId ?? null,
      checkoutKey: input.checkoutKey,
    });

    step('capturing payment');
    capturing = true;
    await capturePayment({ businessKey: paymentKey });
    // The money is taken: from here on the checkout only goes forward.
    compensations.splice(0);
  } catch (err) {
    const expired = err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;
    if (expired) {
      // The holds go first: a createCheckoutOrder attempt still running then either lands before the release
      // (and the compensation below cancels its order) or finds the holds gone and creates nothing.
      step('expired: giving the holds back');
      await releaseCheckoutHolds({ cartId: input.cartId });
    }
    step('compensating');
    await compensate();
    if (expired) {
      step('expired: holds given back, payment voided');
      return { status: 'expired' };
    }
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
    if (capturing && failure && PAYMENT_REFUSALS.includes(failure.type ?? '')) {
      // The provider would not capture the hold: a business outcome, not an outage. The compensations cancelled
      // the order and gave the stock back; the lines leave the cart as their holds are gone.
      step('payment not captured: order cancelled, stock given back');
      await emptyCheckoutCart({ cartId: input.cartId, variantIds: input.items.map((i) => i.variant_id) });
      const details = (failure.details?.[0] ?? {}) as { declineCode?: string | null; failureCode?: string | null; code?: string | null; status?: string | null };
      return {
        status: 'payment_failed',
        code: 'payment_not_captured',
        declineCode: details.declineCode ?? details.failureCode ?? details.code ?? details.status ?? null,
        clientSecret: null,
        message: failure.message,
      };
    }
    if (failure?.type === 'PaymentRequestError' && !authorized) {
      // Refused by the provider before any hold (e.g. Stripe: no such payment method): the shopper's answer, not
      // an outage; the holds stay, as for a decline. Later steps refusing is this code's fault, so it fails.
      const details = (failure.details?.[0] ?? {}) as { code?: string | null };
      step('payment method rejected');
      return { status: 'payment_failed', code: 'payment_method_rejected', declineCode: details.code ?? null, clientSecret: null, message: failure.message };
    }
    if (failure?.type === 'ReservationsLost') {
      step('insufficient stock');
      // What each line still holds (details, in item order), when the commit found lines released or changed.
      const now = (failure.details?.[0] as { held?: number[] } | undefined)?.held;
      const lines = input.items.map((i, n) => ({ variant_id: i.variant_id, requested: i.quantity, held: now?.[n] ?? 0 }));
      const differing = lines.filter((l) => l.held !== l.requested);
      return { status: 'insufficient_stock', items: differing.length ? differing : lines };
    }
    throw err;
  }

  step('closing cart');
  await emptyCheckoutCart({ cartId: input.cartId, variantIds: input.items.map((i) => i.variant_id) });
  step('confirmed');
  return { status: 'confirmed', orderId: orderId! };
}
