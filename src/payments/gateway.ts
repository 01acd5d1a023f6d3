/**
 * The payments port. Every operation takes a deterministic business idempotency key
 * (`pledge:<id>:charge`, `checkout:<key>:authorize`, ...): calling it again with the same key returns the
 * first result and never creates a second charge, hold, capture or refund. Declines and
 * authentication-required are outcomes (status + decline code), not exceptions; exceptions mean the call
 * itself failed (network, provider outage, invalid request) and may be retried with the same key.
 */

export type PaymentIntentStatus =
  | 'requires_action' // the customer must authenticate (3-D Secure); nothing is held yet
  | 'processing' // the provider has not finished; a webhook or retrieve() settles it
  | 'requires_capture' // authorized: funds held until captured or cancelled
  | 'succeeded' // captured / charged
  | 'canceled' // hold released (void)
  | 'failed'; // declined

export interface NextAction {
  type: 'use_stripe_sdk' | 'redirect_to_url';
  /** What the client needs to finish (the PaymentIntent/SetupIntent client secret). */
  client_secret: string;
  redirect_url?: string;
}

export interface PaymentIntentResult {
  /** Provider id (pi_...). */
  id: string;
  status: PaymentIntentStatus;
  amountCents: number;
  currency: string;
  /** Total captured so far (0 until captured). */
  capturedCents: number;
  /** Total refunded so far. */
  refundedCents: number;
  paymentMethod: string;
  customerId?: string;
  /**
   * Set when status is failed: Stripe's error code (card_declined, ...). Also set with requires_action after an
   * off-session attempt (authentication_required): the customer must come back and authenticate.
   */
  failureCode?: string;
  /** Set when status is failed: the card network's reason (generic_decline, insufficient_funds, ...). */
  declineCode?: string;
  failureMessage?: string;
  nextAction?: NextAction;
}

export interface SetupResult {
  /** Provider id (seti_...). */
  id: string;
  status: 'succeeded' | 'requires_action' | 'failed';
  customerId: string;
  /** The reusable payment method saved for later off-session charges. */
  paymentMethod: string;
  failureCode?: string;
  declineCode?: string;
  failureMessage?: string;
  nextAction?: NextAction;
}

export interface RefundResult {
  id: string;
  paymentIntentId: string;
  amountCents: number;
  status: 'succeeded' | 'pending' | 'failed';
}

export interface Money {
  amountCents: number;
  /** ISO 4217, lower or upper case accepted; adapters normalise. */
  currency: string;
}

export interface SavePaymentMethodInput {
  idempotencyKey: string;
  paymentMethod: string;
  /** Our user id; the adapter finds or creates the provider customer for it. */
  customerRef: string;
  email?: string;
  metadata?: Record<string, string>;
}

export interface AuthorizeInput extends Money {
  idempotencyKey: string;
  paymentMethod: string;
  customerId?: string;
  description?: string;
  metadata?: Record<string, string>;
}

export interface ChargeOffSessionInput extends Money {
  idempotencyKey: string;
  customerId: string;
  paymentMethod: string;
  description?: string;
  metadata?: Record<string, string>;
}

export interface CaptureInput {
  idempotencyKey: string;
  paymentIntentId: string;
  /** Defaults to the full authorized amount. */
  amountCents?: number;
}

export interface CancelInput {
  idempotencyKey: string;
  paymentIntentId: string;
}

export interface RefundInput {
  idempotencyKey: string;
  paymentIntentId: string;
  /** Defaults to everything captured and not yet refunded. */
  amountCents?: number;
}

export interface ConnectedAccountInput {
  idempotencyKey: string;
  /** Our reference for the account's owner (a provider id); kept in the account's metadata. */
  ownerRef: string;
  email: string;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
  /** Where the provider lands after the hosted onboarding (Stripe account links need both). */
  returnUrl: string;
  /** Where an expired onboarding link sends the provider to get a fresh one. */
  refreshUrl: string;
}

export interface ConnectedAccountResult {
  /** Provider id (acct_...). */
  id: string;
  /** ready: payouts can be sent to it; pending: the owner still has to finish the hosted onboarding. */
  status: 'pending' | 'ready';
  /** While pending: the hosted onboarding page (short-lived; ask again for a fresh one). */
  onboardingUrl?: string;
}

export interface TransferInput extends Money {
  /** The payout's business key: the same key answers the same transfer, never a second one. */
  idempotencyKey: string;
  /** The connected account (acct_...) the money goes to. */
  destinationAccountId: string;
  metadata?: Record<string, string>;
}

export interface TransferResult {
  /** Provider id (tr_...); null when the provider refused the transfer before creating one. */
  id: string | null;
  /** paid: the money is on the connected account; failed: it never left the platform (failureCode says why). */
  status: 'paid' | 'failed';
  failureCode?: string;
  failureMessage?: string;
}

export interface PaymentGateway {
  readonly provider: 'stripe' | 'simulated';
  /** Saves a card for later off-session use (SetupIntent semantics). */
  savePaymentMethod(input: SavePaymentMethodInput): Promise<SetupResult>;
  /** Places a hold (manual capture). */
  authorize(input: AuthorizeInput): Promise<PaymentIntentResult>;
  /** Captures a hold. Capturing a cancelled or failed payment throws PaymentStateError. */
  capture(input: CaptureInput): Promise<PaymentIntentResult>;
  /**
   * Charges a saved payment method with the customer absent. A card that needs authentication answers
   * requires_action (failureCode authentication_required), never a silent retry.
   */
  chargeOffSession(input: ChargeOffSessionInput): Promise<PaymentIntentResult>;
  /** Voids a hold; voiding a voided one returns it. Cancelling a captured payment throws PaymentStateError (refund instead). */
  cancel(input: CancelInput): Promise<PaymentIntentResult>;
  /** Refunds captured money (never more than captured minus refunded). */
  refund(input: RefundInput): Promise<RefundResult>;
  retrieve(paymentIntentId: string): Promise<PaymentIntentResult>;
  /**
   * A connected account that receives a seller's payouts (Stripe Connect Express). The same key answers the
   * same account; callers record its id and afterwards use retrieveConnectedAccount.
   */
  createConnectedAccount(input: ConnectedAccountInput): Promise<ConnectedAccountResult>;
  /** The account's readiness now; with `onboardingLink`, a fresh onboarding url while it is still pending. */
  retrieveConnectedAccount(accountId: string, opts?: { onboardingLink?: { returnUrl: string; refreshUrl: string } }): Promise<ConnectedAccountResult>;
  /**
   * Moves platform money to a connected account (a seller's payout; Stripe Connect transfer). A refusal (account
   * closed, transfers not enabled) is an outcome (status failed); an exception means the call itself failed and
   * may be retried with the same key.
   */
  transfer(input: TransferInput): Promise<TransferResult>;
}

/** The operation is not allowed in the payment's current state (capture after void, refund before capture...). */
export class PaymentStateError extends Error {
  constructor(
    message: string,
    readonly paymentIntentId: string,
    readonly currentStatus: PaymentIntentStatus,
  ) {
    super(message);
    this.name = 'PaymentStateError';
  }
}

/** The request itself is invalid (unknown payment method, unknown payment id, bad amount): never retry. */
export class PaymentRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'PaymentRequestError';
  }
}
