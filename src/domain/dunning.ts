/**
 * Dunning of plan charges (pure: workflows and activities both use it). A declined charge is retried on a
 * schedule (SUBSCRIPTION_RETRY_SCHEDULE: the wait after each failed try), unless the decline is hard: the bank
 * says the card will never work (lost, stolen, closed, fraud), or the charge needs the customer present
 * (authentication_required), so an off-session retry cannot succeed. Soft declines (generic_decline,
 * insufficient_funds, processing errors, anything unknown) are retried. The codes are Stripe's decline codes,
 * which the simulated gateway uses too (src/payments/testPaymentMethods.ts); payments read them with
 * declineReason (src/payments/outcomes.ts).
 */

/** Decline codes after which no retry is made (Stripe's "do not retry" class, and off-session authentication). */
export const HARD_DECLINE_CODES: ReadonlySet<string> = new Set([
  'authentication_required',
  'card_not_supported',
  'card_velocity_exceeded_permanently',
  'currency_not_supported',
  'do_not_honor_permanently',
  'do_not_try_again',
  'expired_card',
  'fraudulent',
  'incorrect_number',
  'invalid_account',
  'invalid_number',
  'lost_card',
  'merchant_blacklist',
  'new_account_information_available',
  'pickup_card',
  'restricted_card',
  'revocation_of_all_authorizations',
  'revocation_of_authorization',
  'security_violation',
  'stolen_card',
  'stop_payment_order',
  'transaction_not_allowed',
]);

export function isHardDecline(reason: string | null | undefined): boolean {
  return reason != null && HARD_DECLINE_CODES.has(reason);
}

export type DunningStep =
  /** Retry after waitMs. */
  | { kind: 'retry'; waitMs: number }
  /** No more tries: the subscription becomes unpaid. */
  | { kind: 'give_up'; why: 'hard_decline' | 'retries_exhausted' };

/**
 * What follows failed attempt `attempt` (1 is the first charge of the period) declined for `reason`: attempt n is
 * followed by schedule[n − 1], so a schedule of k waits makes k retries, k + 1 attempts in all.
 */
export function afterDecline(attempt: number, reason: string | null | undefined, scheduleMs: readonly number[]): DunningStep {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  if (isHardDecline(reason)) return { kind: 'give_up', why: 'hard_decline' };
  const wait = scheduleMs[attempt - 1];
  return wait === undefined ? { kind: 'give_up', why: 'retries_exhausted' } : { kind: 'retry', waitMs: wait };
}
