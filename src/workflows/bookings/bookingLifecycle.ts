import type { BookingStatus, BookingWorkflowInput } from '../../bookings/contract';

/**
 * What booking:<id> does once the booking is confirmed (reminders, completion, release); run by booking.ts.
 * Placeholder while the bookings domain is built (issue 12).
 */
export interface LifecycleContext {
  input: BookingWorkflowInput;
  /** Resolves true as soon as bookingChanged arrives (the row changed: re-read it), false once `ms` has elapsed. */
  sleepUnlessChanged(ms: number): Promise<boolean>;
  /** Sets the workflow's Status search attribute and current details. */
  setStatus(status: BookingStatus, details?: string): void;
}

export async function runConfirmedBooking(_ctx: LifecycleContext): Promise<BookingStatus> {
  return 'confirmed';
}
