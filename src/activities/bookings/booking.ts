import { ApplicationFailure } from '@temporalio/common';
import { BOOKING_NOT_FOUND } from '../../bookings/contract';
import { releaseExpiredHold, type HoldState } from '../../bookings/holdRelease';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The hold phase of `booking:<id>` (src/workflows/bookings/booking.ts): read the row, release a hold past its end.
 * The rules and SQL are src/bookings/holdRelease.ts.
 */
export function createBookingActivities(deps: Pick<ActivityDeps, 'db' | 'redis' | 'logger'>) {
  const { db } = deps;
  return {
    /**
     * The row's status and hold end. A missing row is "not committed yet" (retryable) until `graceMs` after the
     * workflow's start, then BookingNotFound (non-retryable): the request that made the hold rolled back.
     */
    async bookingHoldState(input: { bookingId: string; startedAt: string; graceMs: number }): Promise<HoldState> {
      const row = (await db('bookings').where({ id: input.bookingId }).first('status', 'hold_expires_at')) as { status: HoldState['status']; hold_expires_at: Date } | undefined;
      if (row) return { status: row.status, holdExpiresAt: row.hold_expires_at.toISOString() };
      const since = Date.now() - Date.parse(input.startedAt);
      if (since < input.graceMs) throw ApplicationFailure.retryable(`booking ${input.bookingId} not committed yet (${since} ms after the start)`, 'BookingNotCommitted');
      throw ApplicationFailure.nonRetryable(`booking ${input.bookingId} still missing ${since} ms after its workflow started: its hold rolled back`, BOOKING_NOT_FOUND);
    },

    /** The hold's timer fired: expire it if still held and past its end (customer told); what the row is now. */
    releaseBookingHold: (input: { bookingId: string }): Promise<HoldState> => releaseExpiredHold(deps, input.bookingId),
  };
}
