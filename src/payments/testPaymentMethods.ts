/**
 * How Stripe's test payment methods behave, for the simulated gateway (DESIGN.md, API.md). Each card has
 * three moments: being saved (SetupIntent), an on-session payment (the customer is present) and an
 * off-session charge (the customer is absent, e.g. at a campaign's deadline).
 */

export type CardOutcome =
  | { kind: 'ok' }
  | { kind: 'decline'; failureCode: string; declineCode: string; message: string }
  /** Needs 3-D Secure. Off-session this is Stripe's `authentication_required` decline. */
  | { kind: 'action' };

export interface CardBehaviour {
  setup: CardOutcome;
  onSession: CardOutcome;
  offSession: CardOutcome;
}

const ok: CardOutcome = { kind: 'ok' };
const action: CardOutcome = { kind: 'action' };
const generic: CardOutcome = { kind: 'decline', failureCode: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' };
const insufficient: CardOutcome = {
  kind: 'decline',
  failureCode: 'card_declined',
  declineCode: 'insufficient_funds',
  message: 'Your card has insufficient funds.',
};

const CARDS: Readonly<Record<string, CardBehaviour>> = {
  pm_card_visa: { setup: ok, onSession: ok, offSession: ok },
  // Stripe refuses to attach the declining test cards, so saving them fails as well as charging.
  pm_card_chargeDeclined: { setup: generic, onSession: generic, offSession: generic },
  pm_card_chargeDeclinedInsufficientFunds: { setup: insufficient, onSession: insufficient, offSession: insufficient },
  pm_card_authenticationRequired: { setup: action, onSession: action, offSession: action },
  // The one that bites after a successful campaign: saves fine, every charge fails.
  pm_card_chargeCustomerFail: { setup: ok, onSession: generic, offSession: generic },
};

export const TEST_PAYMENT_METHODS = Object.keys(CARDS);

/** Unlisted `pm_` tokens behave like pm_card_visa (a real card that works). */
export function cardBehaviour(paymentMethod: string): CardBehaviour {
  return CARDS[paymentMethod] ?? CARDS.pm_card_visa!;
}
