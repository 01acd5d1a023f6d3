import { authorizeOffSession, recheckAuthorization, settleOutcomeMoney } from '../../bookings/bookingMoney';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The booking lifecycle's payment provider calls, served on the rate-limited payments task queue. Declines and
 * refusals are outcomes these return (recorded on the row); only infrastructure failures throw, and the retry
 * repeats the call under the same business keys (src/bookings/bookingMoney.ts).
 */
export function createBookingPaymentActivities(deps: Pick<ActivityDeps, 'config' | 'db' | 'payments' | 'logger'>) {
  return {
    /** Captures or voids what an ended booking's outcome decided, if a request left it undone. */
    settleBookingMoney: (input: { bookingId: string }) => settleOutcomeMoney(deps, input.bookingId),

    /** A far booking's price, authorized from the saved card BOOKING_AUTHORIZATION_WINDOW before the start. */
    authorizeBookingOffSession: (input: { bookingId: string }) => authorizeOffSession(deps, input.bookingId),

    /** After the grace: is the failed authorization completed now? */
    recheckBookingAuthorization: async (input: { bookingId: string }) => ({ authorized: await recheckAuthorization(deps, input.bookingId) }),
  };
}
