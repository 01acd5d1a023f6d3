import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * The bookings domain's workflow contract: ids, type names, signals, updates, queries, inputs and failure names
 * of `provider:<id>` (a provider's onboarding) and `booking:<id>` (a slot hold and the booking made from it, to
 * its end). A leaf: workflows, activities, the API and tests import it; it imports nothing with I/O.
 */

export type ProviderStatus = 'pending' | 'active' | 'rejected' | 'expired';
export type BookingStatus = 'held' | 'confirmed' | 'completed' | 'cancelled' | 'no_show' | 'expired' | 'released';

// ---- provider:<id> — onboarding: an operator's decision and payout details (src/workflows/bookings/providerOnboarding.ts)

export const PROVIDER_ONBOARDING_WORKFLOW = 'providerOnboarding';
export const providerWorkflowId = (providerId: string) => `provider:${providerId}`;
export type ProviderOnboardingWorkflow = (input: ProviderOnboardingInput) => Promise<ProviderOnboardingResult>;

export interface ProviderOnboardingInput {
  providerId: string;
  userId: string;
  displayName: string;
  /** PROVIDER_ONBOARDING_REMINDER and PROVIDER_ONBOARDING_EXPIRY at the start, in ms (tests run them in seconds). */
  reminderMs: number;
  expiryMs: number;
  /** How long after the start a missing row may still be uncommitted (tests shorten it). */
  rowGraceMs?: number;
}

export interface ProviderOnboardingResult {
  status: ProviderStatus;
}

export interface ProviderOnboardingState {
  status: ProviderStatus;
  payoutReady: boolean;
  decidedBy?: string;
  reason?: string;
}

/** Operator decisions. The validators refuse a decision on an onboarding that is no longer pending. */
export const approveProviderUpdate = defineUpdate<ProviderOnboardingState, [{ operatorId: string }]>('approveProvider');
export const rejectProviderUpdate = defineUpdate<ProviderOnboardingState, [{ operatorId: string; reason?: string }]>('rejectProvider');
/** The provider's payout account became ready (the gateway's connected account answered). */
export const payoutDetailsReadySignal = defineSignal<[{ accountId: string }]>('payoutDetailsReady');
export const providerOnboardingStateQuery = defineQuery<ProviderOnboardingState>('providerOnboardingState');

/** Failure type of a decision on an onboarding already decided or expired (the API answers 409). */
export const PROVIDER_NOT_PENDING = 'ProviderNotPending';
/** The onboarding's first step, once the row is still missing well after the start: the onboarding request rolled back. */
export const PROVIDER_NOT_FOUND = 'ProviderNotFound';

// ---- booking:<id> — a hold's durable timer, then the booking's reminders, completion and release
//      (src/workflows/bookings/booking.ts)

export const BOOKING_WORKFLOW = 'booking';
export const bookingWorkflowId = (bookingId: string) => `booking:${bookingId}`;
export type BookingWorkflow = (input: BookingWorkflowInput) => Promise<BookingWorkflowResult>;

export interface BookingWorkflowInput {
  bookingId: string;
  providerId: string;
  customerId: string;
  serviceId: string;
  /** ISO instants. The workflow re-reads the row whenever a timer fires: these are only its first plan. */
  holdExpiresAt: string;
  startsAt: string;
  endsAt: string;
  /**
   * The hold's row is committed by the request that starts this workflow, a moment AFTER the start (so a row never
   * exists without its timer): until this long after the start a missing row is "not committed yet", then the
   * request rolled back and there is nothing to do. Default 60 s; tests shorten it.
   */
  rowGraceMs?: number;
}

export interface BookingWorkflowResult {
  status: BookingStatus;
}

/** The row changed (confirmed, moved, cancelled, completed...): the workflow re-reads it and re-plans its timers. */
export const bookingChangedSignal = defineSignal('bookingChanged');
export const bookingStateQuery = defineQuery<{ status: BookingStatus; phase: string; nextTimerAt: string | null }>('bookingState');

/**
 * The business key of the payment a booking is made with (bookings.payment_key once confirmed): `authorize` when
 * the start is within BOOKING_AUTHORIZATION_WINDOW (the price is held on the card), else `setup` (the card saved
 * for an off-session authorization before the start). Every card tried on a hold is an attempt of its own (a
 * declined card's key cannot carry another card): `booking:<id>:authorize`, then `booking:<id>:authorize:2`, ...
 * Read the key from the row; never rebuild it from the id alone.
 */
export const bookingPaymentKey = (bookingId: string, mode: 'authorize' | 'setup', attempt = 1) =>
  attempt === 1 ? `booking:${bookingId}:${mode}` : `booking:${bookingId}:${mode}:${attempt}`;

/** Failure type of a booking step whose row does not exist (non-retryable). */
export const BOOKING_NOT_FOUND = 'BookingNotFound';
