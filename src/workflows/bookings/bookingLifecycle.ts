import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import type { LifecycleStep } from '../../bookings/bookingPlan';
import type { BookingStatus, BookingWorkflow, BookingWorkflowInput } from '../../bookings/contract';
import { paymentsTaskQueue } from '../../temporal/taskQueues';

/**
 * What booking:<id> does once the booking is confirmed (run by booking.ts): reminders before the start, the
 * off-session authorization of a far booking, completion by itself after end + grace, the money of any outcome a
 * request left unsettled, and the provider's release after the dispute window.
 *
 * The workflow holds no state of its own: each round asks the row what is due (bookingLifecyclePlan, derived from
 * the row and the settings), runs that one step, and asks again; with nothing due it sleeps until the next step,
 * woken early by bookingChanged (a cancel, a completion, a reschedule that moved the start: re-plan). Every step is
 * idempotent, so a replay, a retry or a continue-as-new (when the history grows long) does nothing twice.
 */
export interface LifecycleContext {
  input: BookingWorkflowInput;
  /** Resolves true as soon as bookingChanged arrives (the row changed: re-read it), false once `ms` has elapsed. */
  sleepUnlessChanged(ms: number): Promise<boolean>;
  /** Sets the workflow's Status search attribute and current details. */
  setStatus(status: BookingStatus, details?: string): void;
}

const { bookingLifecyclePlan } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});
const { sendBookingReminder, autoCompleteBooking, cancelUnpaidBooking, releaseBookingFunds } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

/** The least a sleep lasts: a step the row says is due "in 3 ms" (two hosts' clocks) is not worth a busy loop. */
const MIN_SLEEP_MS = 250;

export async function runConfirmedBooking(ctx: LifecycleContext): Promise<BookingStatus> {
  const { bookingId } = ctx.input;
  const payments = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1s', maximumInterval: '1 minute' },
  });

  const run = async (step: LifecycleStep): Promise<void> => {
    switch (step.kind) {
      case 'remind':
        await sendBookingReminder({ bookingId, offsetMs: step.offsetMs, startsAt: step.startsAt });
        return;
      case 'authorize':
        await payments.authorizeBookingOffSession({ bookingId });
        return;
      case 'payment_grace_over':
        if (!(await payments.recheckBookingAuthorization({ bookingId })).authorized) await cancelUnpaidBooking({ bookingId });
        return;
      case 'complete':
        await autoCompleteBooking({ bookingId });
        return;
      case 'settle_money':
        await payments.settleBookingMoney({ bookingId });
        return;
      case 'release':
        await releaseBookingFunds({ bookingId });
        return;
    }
  };

  for (;;) {
    const plan = await bookingLifecyclePlan({ bookingId });
    ctx.setStatus(plan.status, `**Status:** ${plan.status}\n\n**Slot:** ${plan.startsAt} – ${plan.endsAt}\n\n**Next:** ${plan.next}`);
    if (plan.step) {
      await run(plan.step);
      continue;
    }
    if (plan.wakeInMs === null) return plan.status;
    // Rounds are few (reminders, a payment step, completion, release), but reschedules and signals are not
    // bounded: a fresh run re-derives everything from the row. Handlers keep nothing lasting.
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<BookingWorkflow>(ctx.input);
    await ctx.sleepUnlessChanged(Math.max(MIN_SLEEP_MS, plan.wakeInMs));
  }
}
