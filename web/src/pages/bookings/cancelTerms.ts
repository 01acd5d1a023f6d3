/** What the preview needs of a booking (kept structural so the server's tests can check it against the API's rule). */
export interface CancellableBooking {
  policy: { free_until_hours: number; late_fee_percent: number };
  price_cents: number;
  start: string;
}

/**
 * What cancelling now would refund and keep, by the policy frozen on the booking: the same rule the API applies
 * (src/domain/cancellationPolicy.ts; tests/web/cancelTerms.test.ts holds them together), so the customer reads the
 * amounts before confirming. Only a customer's late cancellation (less than free_until_hours before the start)
 * costs the late fee, rounded down in their favour.
 */
export function cancellationPreview(booking: CancellableBooking, by: 'customer' | 'provider', now = Date.now()) {
  const late = Date.parse(booking.start) - now < booking.policy.free_until_hours * 3_600_000;
  const feeCents = late && by === 'customer' ? Math.floor((booking.price_cents * Math.round(booking.policy.late_fee_percent * 100)) / 10_000) : 0;
  return { late, feeCents, refundCents: booking.price_cents - feeCents, freeUntil: new Date(Date.parse(booking.start) - booking.policy.free_until_hours * 3_600_000).toISOString() };
}
