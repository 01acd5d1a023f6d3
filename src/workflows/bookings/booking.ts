import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  BOOKING_NOT_FOUND,
  bookingChangedSignal,
  bookingStateQuery,
  type BookingStatus,
  type BookingWorkflowInput,
  type BookingWorkflowResult,
} from '../../bookings/contract';
import { Status } from '../../temporal/searchAttributes';
import { runConfirmedBooking } from './bookingLifecycle';

/**
 * `booking:<id>`: a slot hold's durable timer, then (once booked) the booking's life, run by runConfirmedBooking
 * (bookingLifecycle.ts). Started by the request that inserts the hold, BEFORE its COMMIT, so a missing row is
 * "not committed yet" until `rowGraceMs` after the start and then "rolled back": nothing to do.
 *
 * Hold phase: sleep until hold_expires_at, woken early by bookingChanged (confirmed, moved, released); on waking,
 * read the row. Still held and past its end → release it (expired, the customer told) and finish; booked →
 * the lifecycle; anything else (expired, released into another booking) → finish. All state is the row's: a
 * replay or a new worker after a crash re-derives everything from it.
 */

// The row is read often and cheaply; a missing row is retried quickly until the grace ends, then BookingNotFound.
const { bookingHoldState } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5 seconds' },
});
const { releaseBookingHold } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1s', maximumInterval: '30 seconds' },
});

const ROW_COMMIT_GRACE_MS = 60_000;
/** The least a re-check waits when Postgres' clock says the hold has not ended yet though this one says it has. */
const MIN_RECHECK_MS = 500;
/** Rows in these statuses are the booking's lifecycle's (settling an ended booking's money included). */
const BOOKED: readonly BookingStatus[] = ['confirmed', 'completed', 'cancelled', 'no_show'];

export async function booking(input: BookingWorkflowInput): Promise<BookingWorkflowResult> {
  const state = { status: 'held' as BookingStatus, phase: 'hold', nextTimerAt: null as string | null };
  let changes = 0;
  let acknowledged = 0;
  setHandler(bookingChangedSignal, () => {
    changes += 1;
  });
  setHandler(bookingStateQuery, () => ({ ...state }));

  let shown: BookingStatus = 'held';
  const setStatus = (status: BookingStatus, details?: string) => {
    state.status = status;
    if (status !== shown) {
      upsertSearchAttributes([{ key: Status, value: status }]);
      shown = status;
    }
    setCurrentDetails(details ?? `**Status:** ${status}\n\n**Slot:** ${input.startsAt} – ${input.endsAt}`);
  };

  /** True as soon as bookingChanged arrives (or already arrived since the last read), false once `ms` has elapsed. */
  const sleepUnlessChanged = async (ms: number): Promise<boolean> => {
    if (changes !== acknowledged) {
      acknowledged = changes;
      return true;
    }
    state.nextTimerAt = new Date(Date.now() + ms).toISOString();
    const changed = await condition(() => changes !== acknowledged, Math.max(1, ms));
    state.nextTimerAt = null;
    acknowledged = changes;
    return changed;
  };

  setStatus('held', `**Status:** held until ${input.holdExpiresAt}\n\n**Slot:** ${input.startsAt} – ${input.endsAt}`);
  const startedAt = workflowInfo().startTime.toISOString();
  const graceMs = input.rowGraceMs ?? ROW_COMMIT_GRACE_MS;

  // A new hold is asleep from its first task: nothing about it can change before its end unless a request says so
  // (bookingChanged), so the row is first read when woken, which saves every hold an activity and a task. A hold
  // whose request rolled back is then found missing, well past the grace. A continued run (the lifecycle's
  // continue-as-new) reads at once: its row has long moved on.
  const untilEnd = Date.parse(input.holdExpiresAt) - Date.now();
  if (untilEnd > 0 && !workflowInfo().continuedFromExecutionRunId) await sleepUnlessChanged(untilEnd);

  for (;;) {
    acknowledged = changes; // a change from here on wakes the next sleep at once
    let row;
    try {
      row = await bookingHoldState({ bookingId: input.bookingId, startedAt, graceMs });
    } catch (err) {
      // The request that started this workflow rolled back: there is no hold.
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === BOOKING_NOT_FOUND) {
        state.phase = 'done';
        setStatus('expired', 'No hold: the request that made it rolled back.');
        return { status: 'expired' };
      }
      throw err;
    }

    if (row.status === 'held') {
      const left = Date.parse(row.holdExpiresAt!) - Date.now();
      if (left > 0) {
        await sleepUnlessChanged(left);
        continue;
      }
      const after = await releaseBookingHold({ bookingId: input.bookingId });
      if (after.status === 'held') {
        await sleepUnlessChanged(Math.max(MIN_RECHECK_MS, Date.parse(after.holdExpiresAt!) - Date.now()));
        continue;
      }
      if (after.status === 'expired') {
        state.phase = 'done';
        setStatus('expired', `**Status:** expired at ${row.holdExpiresAt}: the hold was not booked in time`);
        return { status: 'expired' };
      }
      continue; // booked just before its end: read it again
    }

    if (row.status !== 'missing' && BOOKED.includes(row.status)) {
      state.phase = 'booked';
      setStatus(row.status);
      return { status: await runConfirmedBooking({ input, sleepUnlessChanged, setStatus }) };
    }

    // Expired (by a new hold that met it past its end) or released into another booking.
    state.phase = 'done';
    const status = row.status === 'missing' ? 'expired' : row.status;
    setStatus(status);
    return { status };
  }
}
