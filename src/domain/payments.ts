/**
 * The platform's payment state machine. Pure: no I/O and no Node imports, so Temporal workflow code can
 * import it as well as activities and the API.
 *
 *   pending ──► requires_action ──► requires_capture ──► succeeded ──► partially_refunded ──► refunded
 *      │              │    ▲               │                 │                ▲
 *      │              ▼    │               ▼                 └────────────────┘
 *      ├────────► processing ─────────► canceled
 *      └────────► failed ─────────────► canceled
 *
 * `pending` means "row written, provider not yet answered" — a crash there is repaired by asking the provider
 * again with the same idempotency key. `failed` can still be cancelled (Stripe voids an unpaid intent), and
 * `succeeded` can only go forward through refunds: money that was taken is given back, never "un-taken".
 */

export const PAYMENT_STATUSES = [
  'pending',
  'requires_action',
  'processing',
  'requires_capture',
  'succeeded',
  'partially_refunded',
  'refunded',
  'canceled',
  'failed',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const PAYMENT_KINDS = ['setup', 'authorization', 'charge'] as const;
/** setup: card saved for later (SetupIntent); authorization: a hold, captured later; charge: taken at once. */
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  pending: ['requires_action', 'processing', 'requires_capture', 'succeeded', 'failed', 'canceled'],
  requires_action: ['processing', 'requires_capture', 'succeeded', 'failed', 'canceled'],
  processing: ['requires_action', 'requires_capture', 'succeeded', 'failed', 'canceled'],
  requires_capture: ['succeeded', 'canceled'],
  succeeded: ['partially_refunded', 'refunded'],
  partially_refunded: ['partially_refunded', 'refunded'],
  refunded: [],
  canceled: [],
  failed: ['canceled'],
};

export function isPaymentStatus(value: string): value is PaymentStatus {
  return (PAYMENT_STATUSES as readonly string[]).includes(value);
}

export function allowedTransitions(from: PaymentStatus): readonly PaymentStatus[] {
  return TRANSITIONS[from];
}

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** No further transition exists: the provider will never change this payment again. */
export function isFinal(status: PaymentStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/** The provider may still move it without us asking (the customer authenticates, a bank settles). */
export function awaitsProvider(status: PaymentStatus): boolean {
  return status === 'pending' || status === 'requires_action' || status === 'processing';
}

export class IllegalPaymentTransitionError extends Error {
  constructor(
    readonly from: PaymentStatus,
    readonly to: PaymentStatus,
  ) {
    super(`A payment cannot go from ${from} to ${to}; allowed: ${TRANSITIONS[from].join(', ') || 'none (final)'}.`);
    this.name = 'IllegalPaymentTransitionError';
  }
}

export function assertTransition(from: PaymentStatus, to: PaymentStatus): void {
  if (!canTransition(from, to)) throw new IllegalPaymentTransitionError(from, to);
}

export type PaymentOperation = 'capture' | 'cancel' | 'refund';

const OPERATION_ALLOWED_FROM: Readonly<Record<PaymentOperation, readonly PaymentStatus[]>> = {
  capture: ['requires_capture'],
  cancel: ['pending', 'requires_action', 'requires_capture', 'failed'],
  refund: ['succeeded', 'partially_refunded'],
};

/** Why `op` is not allowed in `status`, or undefined when it is. */
export function operationBlocked(op: PaymentOperation, status: PaymentStatus): string | undefined {
  if (OPERATION_ALLOWED_FROM[op].includes(status)) return undefined;
  const hint =
    op === 'capture' && status === 'canceled'
      ? ' The hold was voided; authorize again instead.'
      : op === 'cancel' && (status === 'succeeded' || status === 'partially_refunded')
        ? ' The money was already taken; refund instead.'
        : op === 'refund' && status === 'requires_capture'
          ? ' Nothing was captured yet; cancel the hold instead.'
          : '';
  return `Cannot ${op} a payment that is ${status}.${hint}`;
}

export interface MoneyState {
  capturedCents: number;
  refundedCents: number;
}

export function refundableCents(p: MoneyState): number {
  return Math.max(0, p.capturedCents - p.refundedCents);
}

/** Why refunding `amountCents` is not allowed, or undefined when it is. Refunds never exceed what was captured. */
export function refundBlocked(p: MoneyState, amountCents: number): string | undefined {
  const left = refundableCents(p);
  if (left === 0) return p.capturedCents === 0 ? 'Nothing was captured, so there is nothing to refund.' : 'Everything captured has already been refunded.';
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0) return 'A refund must be a positive whole number of minor units.';
  if (amountCents > left) return `Cannot refund ${amountCents}: only ${left} of ${p.capturedCents} captured is left to refund.`;
  return undefined;
}

/** What a provider reports, in the port's vocabulary (see src/payments/gateway.ts). */
export type ProviderPaymentStatus = 'requires_action' | 'processing' | 'requires_capture' | 'succeeded' | 'canceled' | 'failed';

/** The platform status for a provider's view of a payment, refunds included. */
export function paymentStatusFrom(provider: ProviderPaymentStatus, money: MoneyState): PaymentStatus {
  if (provider !== 'succeeded' || money.refundedCents === 0) return provider;
  return money.refundedCents >= money.capturedCents ? 'refunded' : 'partially_refunded';
}

/**
 * The non-retryable ApplicationFailure types the payment activities throw; workflows switch on them.
 *   PaymentDeclined        card declined (details: failureCode, declineCode)
 *   PaymentActionRequired  the customer must authenticate (details: clientSecret for Stripe.js)
 *   PaymentStateError      not possible in the payment's state (capture after void, refund before capture)
 *   PaymentRequestError    invalid request (unknown payment method, key reused with other terms, refund too large)
 */
export const PAYMENT_FAILURE_TYPES = ['PaymentDeclined', 'PaymentActionRequired', 'PaymentStateError', 'PaymentRequestError'] as const;
export type PaymentFailureType = (typeof PAYMENT_FAILURE_TYPES)[number];

/** `failure.details[0]` of those failures. */
export interface PaymentFailureDetails {
  businessKey: string;
  paymentId?: string;
  providerPaymentId?: string | null;
  status?: string;
  code?: string;
  failureCode?: string | null;
  declineCode?: string | null;
  clientSecret?: string;
}
