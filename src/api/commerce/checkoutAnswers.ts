import { Problem, problems } from '../http/problem';
import type { CheckoutResult } from '../../commerce/contract';

/**
 * The one mapping of a checkout's outcome to HTTP, for POST /v1/checkout (`cart`) and for a drop's claim
 * (`claim`), which sells through the same saga. A confirmed checkout is 201 with the order as the caller
 * renders it; every other outcome is the problem it stands for. The two differ only where a claim differs:
 * its one unit is priced and held by the drop (a stock or price outcome means it is gone: `sold_out`), and a
 * failed payment leaves its window open for another card.
 */

export type CheckoutCaller = 'cart' | 'claim';

type Unconfirmed = Exclude<CheckoutResult, { status: 'confirmed' }>;
type PaymentFailed = Extract<CheckoutResult, { status: 'payment_failed' }>;

function cartRefusal(result: Unconfirmed): Problem {
  switch (result.status) {
    case 'insufficient_stock':
      return problems.conflict('insufficient_stock', 'Some items of the cart are no longer held for it as they were checked out (released, or their quantity changed meanwhile); nothing was charged. Review the cart and check out again.', {
        items: result.items.map((i) => ({ variant_id: i.variant_id, requested: i.requested, available: i.held })),
      });
    case 'price_changed':
      // The checkout has repriced the cart, so the shopper can review it and check out again.
      return problems.conflict('price_changed', 'Prices changed since these items were added; the cart now shows the current prices. Review it and check out again (with a new Idempotency-Key).', {
        items: result.items,
      });
    case 'expired':
      return problems.unprocessable('checkout_expired', 'The checkout could not finish while your items were held; the payment was voided and the items released (they left the cart). Add them again to retry.');
    case 'payment_failed':
      return paymentRefusal(result, 'cart');
  }
}

/** What the shopper is told to do next after each payment failure: the one place the two callers differ. */
const NEXT_STEP: Record<CheckoutCaller, Record<PaymentFailed['code'], string>> = {
  cart: {
    payment_method_rejected: 'Use another payment method.',
    payment_not_captured: 'Nothing was charged, the order was cancelled and the items were released; add them again to check out.',
    requires_action: 'Complete the authentication and check out again.',
    payment_declined: 'Your items stay reserved; try another card.',
  },
  claim: {
    payment_method_rejected: 'Your window is still open; try another card.',
    payment_not_captured: 'Nothing was charged and your window is still open; try again.',
    requires_action: 'Your window is still open; complete the authentication or use another card.',
    payment_declined: 'Your window is still open; try another card.',
  },
};

/** A failed payment answers with the same status and code whoever checked out; only the next step differs. */
function paymentRefusal(result: PaymentFailed, caller: CheckoutCaller): Problem {
  const next = NEXT_STEP[caller][result.code];
  switch (result.code) {
    case 'payment_method_rejected':
      return problems.unprocessable('payment_method_rejected', `The payment provider refused the payment method: ${result.message ?? 'no reason given'}. ${next}`, { reason: result.declineCode });
    case 'payment_not_captured':
      return new Problem(402, 'payment_not_captured', 'Payment not captured', `The payment could not be taken (the card’s hold lapsed or was cancelled). ${next}`, {
        decline_code: result.declineCode,
      });
    case 'requires_action':
      return new Problem(402, 'requires_action', 'Payment requires action', `The card needs authentication. ${next}`, { next_action: { client_secret: result.clientSecret } });
    case 'payment_declined':
      return new Problem(402, 'payment_declined', 'Payment declined', `The card was declined. ${next}`, { decline_code: result.declineCode });
  }
}

function claimRefusal(result: Unconfirmed): Problem {
  if (result.status === 'payment_failed') return paymentRefusal(result, 'claim');
  if (result.status === 'expired') return problems.unprocessable('checkout_expired', 'The checkout could not finish while the unit was held; retry.');
  return problems.conflict('sold_out', 'The unit could not be sold to you (sold out or no longer held).');
}

/** 201 with the rendered order when the checkout confirmed; otherwise throws the outcome's problem. */
export async function checkoutAnswer(result: CheckoutResult, caller: CheckoutCaller, renderOrder: (orderId: string) => Promise<unknown>) {
  if (result.status === 'confirmed') return { status: 201, body: await renderOrder(result.orderId) };
  throw caller === 'cart' ? cartRefusal(result) : claimRefusal(result);
}
