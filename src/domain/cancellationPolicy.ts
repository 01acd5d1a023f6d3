/**
 * What cancelling or not showing up costs, by the policy frozen on the booking (issue 12). Pure.
 */

export interface CancellationPolicy {
  free_until_hours: number;
  late_fee_percent: number;
  no_show_fee_percent: number;
}

export type Canceller = 'customer' | 'provider' | 'operator';

const HOUR = 3_600_000;

/**
 * `percent` % of an amount in integer minor units, rounded down (in the customer's favour).
 * Fractional percents are taken to two decimals (basis points) so float noise never shifts a cent.
 */
export function percentOf(amountCents: number, percent: number): number {
  if (!Number.isSafeInteger(amountCents) || amountCents < 0) throw new RangeError('amountCents must be a non-negative integer');
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new RangeError('percent must be within 0-100');
  const basisPoints = Math.round(percent * 100);
  return Math.floor((amountCents * basisPoints) / 10_000);
}

/**
 * `late` says the cancellation falls inside the fee window (less than free_until_hours before the start, or after it),
 * whoever cancels; only a customer's late cancellation costs a fee. The rest of the price is refunded.
 */
export function cancellationTerms(
  policy: CancellationPolicy,
  priceCents: number,
  startsAt: number,
  now: number,
  by: Canceller,
): { feeCents: number; refundCents: number; late: boolean } {
  const late = startsAt - now < policy.free_until_hours * HOUR;
  const feeCents = late && by === 'customer' ? percentOf(priceCents, policy.late_fee_percent) : 0;
  return { feeCents, refundCents: priceCents - feeCents, late };
}

export function noShowFee(policy: CancellationPolicy, priceCents: number): number {
  return percentOf(priceCents, policy.no_show_fee_percent);
}
