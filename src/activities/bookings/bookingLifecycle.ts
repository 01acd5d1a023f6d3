import { ApplicationFailure } from '@temporalio/common';
import { releaseToProvider } from '../../bookings/bookingLedger';
import { decideOutcome, type Outcome } from '../../bookings/bookingOutcomes';
import { lifecyclePlan, type LifecyclePlan } from '../../bookings/bookingPlan';
import { sendBookingReminder } from '../../bookings/bookingReminders';
import { providerCalendarChanged } from '../../bookings/availabilityCache';
import { BOOKING_NOT_FOUND, type BookingStatus } from '../../bookings/contract';
import { DomainError } from '../../domain/errors';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The confirmed booking's steps (src/workflows/bookings/bookingLifecycle.ts) that touch only Postgres and Redis:
 * its plan, reminders, the platform's own outcomes and the provider's release. The money steps run on the payments
 * queue (./bookingPayments.ts). Each step re-checks the row, so a late or repeated one does nothing twice.
 */
export function createBookingLifecycleActivities(deps: Pick<ActivityDeps, 'db' | 'config' | 'redis' | 'logger'>) {
  const { db } = deps;

  /** The platform ends the booking (actor 'system'): the same decision the routes make; a lost race is no error. */
  async function endBySystem(bookingId: string, to: Outcome): Promise<{ status: BookingStatus }> {
    try {
      const row = await decideOutcome(db, { bookingId, to, by: 'system' });
      await providerCalendarChanged(deps, row.provider_id);
      return { status: row.status };
    } catch (err) {
      // Someone ended it first (a provider's completion racing this one): their outcome stands.
      if (err instanceof DomainError && err.kind === 'conflict') return { status: err.extra.current_status as BookingStatus };
      throw err;
    }
  }

  return {
    /** What the booking's workflow does next (BookingNotFound, non-retryable, when the row is gone). */
    async bookingLifecyclePlan(input: { bookingId: string }): Promise<LifecyclePlan> {
      const plan = await lifecyclePlan(deps, input.bookingId);
      if (!plan) throw ApplicationFailure.nonRetryable(`booking ${input.bookingId} not found`, BOOKING_NOT_FOUND);
      return plan;
    },

    /** One reminder (booking, offset, start), at most once. */
    async sendBookingReminder(input: { bookingId: string; offsetMs: number; startsAt: string }): Promise<{ sent: boolean }> {
      return { sent: await sendBookingReminder(db, input) };
    },

    /** Nobody said anything by end + BOOKING_COMPLETION_GRACE: completed, exactly as the provider's completion. */
    autoCompleteBooking: (input: { bookingId: string }) => endBySystem(input.bookingId, 'completed'),

    /** The off-session authorization failed and the grace is over: the platform cancels (no fee). */
    async cancelUnpaidBooking(input: { bookingId: string }): Promise<{ status: BookingStatus }> {
      const row = (await db('bookings').where({ id: input.bookingId }).first('status', 'payment_failed_at')) as { status: BookingStatus; payment_failed_at: Date | null } | undefined;
      // Paid meanwhile (the mark was cleared) or ended otherwise: nothing to cancel.
      if (!row || row.status !== 'confirmed' || !row.payment_failed_at) return { status: row?.status ?? 'cancelled' };
      return endBySystem(input.bookingId, 'cancelled');
    },

    /** The dispute window is over: what the booking kept goes to the provider (a ledger line, once). */
    releaseBookingFunds: (input: { bookingId: string }) => releaseToProvider(db, input.bookingId, deps.config.PAYOUT_DELAY_BOOKING),
  };
}
