import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import { OrderId } from '../../temporal/searchAttributes';
import { paymentsTaskQueue } from '../../temporal/taskQueues';
import { CHECKOUT_FAILED, HOLDS_RAN_OUT, type CheckoutInput, type CheckoutResult, checkoutAnswerUpdate, checkoutPaymentKey } from '../../commerce/contract';
import { orderAmounts } from '../../domain/orderAmounts';

/**
 * One checkout (`checkout:<key>`, the key being the caller-scoped Idempotency-Key): confirm the cart's prices and
 * holds → authorize → place the order (order created and holds sold, one transaction) and take the lines out of the
 * cart → answer the shopper (the `answer` Update) → capture → record the charge (ledger line, seller charge, receipt).
 * What is authorized and captured is the order's total: its subtotal plus the store owner's tax, added on top per
 * line (src/domain/orderAmounts.ts, at the rate the first step read). A compensation is registered before each risky step
 * and they run newest first when a later step fails. A declined card (or one that needs authentication) voids
 * what was done but keeps the holds, so the shopper can retry within the TTL.
 *
 * The database and Redis steps are local activities (run in the workflow's own task, no server round trip each);
 * every one is idempotent, as a local activity may run again after a crash. The payment steps are regular
 * activities on the rate-limited payments queue (DESIGN: provider calls run there).
 *
 * Prices are checked first: a line whose price changed since it was added is reported (`price_changed`), never
 * charged at either price. The order must be placed while the holds last (holdMs from their confirmation): when
 * the workers are gone longer than that — killed after the authorization, say — the saga does not sell stock it
 * no longer holds; on resuming it gives the holds back, voids the authorization and ends `expired`. The order step
 * itself is cut off at the holds' end (HOLDS_RAN_OUT, see placeCheckoutOrder), and an attempt still under way then
 * finds the holds gone and rolls back whole.
 */

// Each database step is one short transaction, retried in the worker at once for a transient error.
const dbSteps: LocalActivityOptions = { startToCloseTimeout: '15 seconds', retry: { initialInterval: '200 ms', maximumInterval: '10 seconds' } };
const { confirmCheckout, placeCheckoutOrder, cancelPlacedOrder, releaseCheckoutHolds, emptyCheckoutCart } = proxyLocalActivities<Activities>(dbSteps);
// The money is captured by then: recording it is never compensated, only retried (without end, backing off) until
// it is done; the commerce reconciliation records a charge this step never got to (a workflow terminated, say).
const { recordOrderCharge } = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { initialInterval: '1 second', maximumInterval: '5 minutes' } });

const DEFAULT_HOLD_MS = 15 * 60_000;
const DEFAULT_PAYMENT_STEP_MS = 2 * 60_000;

/** Payment failure types that are the provider's answer about this payment (not an outage, not a bug here). */
const PAYMENT_REFUSALS: readonly string[] = ['PaymentDeclined', 'PaymentStateError', 'PaymentRequestError'];

/** The typed business failure behind an activity failure, if any (a local activity's comes unwrapped). */
function businessFailure(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}

/** The holds ran out before the order was placed (its step timed out, or the workers were away too long). */
class HoldsRanOut extends Error {}

export async function checkout(input: CheckoutInput): Promise<CheckoutResult> {
  // The shopper's answer: known once the order is placed or the checkout ends; every Update waits for it.
  let answer: CheckoutResult | undefined;
  let failed = false;
  setHandler(
    checkoutAnswerUpdate,
    async () => {
      await condition(() => answer !== undefined || failed);
      if (!answer) throw ApplicationFailure.create({ type: CHECKOUT_FAILED, message: 'The checkout could not be completed.', nonRetryable: true });
      return answer;
    },
    {
      validator: (request) => {
        // Under one key, only the cart it was started for gets an answer (never another cart's order).
        if (typeof request?.cartId !== 'string' || request.cartId !== input.cartId) throw new Error('This checkout is for another cart.');
      },
    },
  );
  const finish = async (result: CheckoutResult) => {
    answer ??= result;
    await condition(allHandlersFinished);
    return result;
  };
  try {
    return await finish(await saga(input, (confirmed) => void (answer = confirmed)));
  } catch (err) {
    failed = true;
    await condition(allHandlersFinished);
    throw err;
  }
}

async function saga(input: CheckoutInput, answerConfirmed: (result: CheckoutResult) => void): Promise<CheckoutResult> {
  const { authorizePayment, capturePayment, cancelPayment } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: input.paymentStepMs ?? DEFAULT_PAYMENT_STEP_MS,
    retry: { initialInterval: '1s', maximumInterval: '1 minute' },
  });

  const paymentKey = checkoutPaymentKey(input.checkoutKey);
  // The subtotal until the first step says the tax rate; the order's total (what is authorized) after it.
  let amountCents = input.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0);
  const variantIds = input.items.map((i) => i.variant_id);
  let orderId: string | null = null;
  const step = (name: string) =>
    setCurrentDetails(
      [
        `**${name}** — checkout of cart ${input.cartId} at store ${input.storeId}`,
        `amount: ${amountCents} ${input.currency} (${input.items.length} line(s)); payment key: ${paymentKey}`,
        `order: ${orderId ?? 'not yet'}`,
      ].join('\n'),
    );

  step('confirming prices and reservations');
  const holdMs = input.holdMs ?? DEFAULT_HOLD_MS;
  const held = await confirmCheckout({ cartId: input.cartId, storeId: input.storeId, dropId: input.dropId ?? null, items: input.items, holdMs });
  if (held.status !== 'held') {
    step(held.status === 'price_changed' ? 'prices changed' : 'insufficient stock');
    return held;
  }
  const holdsEndAt = Date.now() + holdMs;
  const amounts = orderAmounts(input.items, held.taxRateBps ?? 0);
  amountCents = amounts.total_cents;

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

    // The order and the sale are one transaction, so one compensation: the order cancelled and its stock given
    // back. The commit claims the holds for this checkout (its key), so another checkout of the same cart can
    // neither sell them too nor, restocking after its own failure, give back what this one sold.
    compensations.push({
      name: 'cancel order',
      run: () =>
        cancelPlacedOrder({ checkoutKey: input.checkoutKey, storeId: input.storeId, reservationIds: held.reservationIds, dropId: input.dropId ?? null, reason: 'checkout failed' }),
    });
    // Workflow time: after a long absence of the workers this is the resumed task's time, past the holds.
    if (Date.now() >= holdsEndAt) throw new HoldsRanOut();
    step('placing order');
    const order = await placeCheckoutOrder({
      checkoutKey: input.checkoutKey,
      cartId: input.cartId,
      storeId: input.storeId,
      customerId: input.customerId,
      customerEmail: input.customerEmail ?? null,
      currency: input.currency,
      items: input.items,
      taxRateBps: amounts.taxRateBps,
      shippingAddress: { ...input.shippingAddress },
      billingAddress: input.billingAddress ? { ...input.billingAddress } : null,
      paymentKey,
      reservationIds: held.reservationIds,
      dropId: input.dropId ?? null,
      holdsEndAt,
    });
    orderId = order.orderId;
    upsertSearchAttributes([{ key: OrderId, value: order.orderId }]);
    // Sold: the lines leave the cart document before the shopper is answered, so the cart they see next is empty.
    await emptyCheckoutCart({ cartId: input.cartId, variantIds });
    answerConfirmed({ status: 'confirmed', orderId: order.orderId });

    step('capturing payment');
    capturing = true;
    await capturePayment({ businessKey: paymentKey });
    // The money is taken: from here on the checkout only goes forward.
    compensations.splice(0);
  } catch (err) {
    const expired = err instanceof HoldsRanOut || businessFailure(err)?.type === HOLDS_RAN_OUT;
    if (expired) {
      // The holds go first: an order still being placed then either commits before the release (and the
      // compensations below restock and cancel it) or finds the holds gone and rolls back whole.
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
      // the order and gave the stock back (the lines left the cart when it was placed). The shopper was told
      // `confirmed`; the order's status (cancelled, with why) is what changed since.
      step('payment not captured: order cancelled, stock given back');
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

  step('recording the charge');
  await recordOrderCharge({ orderId: orderId! });
  step('confirmed');
  return { status: 'confirmed', orderId: orderId! };
}
