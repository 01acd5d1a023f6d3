import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * The commerce domain's workflow contract: ids, type names, signals and queries, inputs, results and failure
 * names of the hold sweepers (`hold-expiry:<shard>`), `checkout:<key>` (checkout) and the reconciliation. A leaf:
 * workflows, activities, the API and tests import it; it imports nothing with I/O.
 */

// ---- hold-expiry:<shard> — the timers of every cart hold (src/workflows/commerce/holdExpiry.ts)

export const HOLD_EXPIRY_WORKFLOW = 'holdExpiry';
/** One sweeper per shard and deployment (its task queue), so test files sharing a server never share one. */
export const holdExpiryWorkflowId = (taskQueue: string, shard: number) => `${taskQueue}:hold-expiry:${shard}`;
export type HoldExpiryWorkflow = (input: HoldExpiryInput) => Promise<void>;

export interface HoldExpiryInput {
  shard: number;
  shards: number;
  /**
   * The longest the sweeper sleeps between two reads of its holds: at most half the shortest hold an add can
   * create without telling it (RESERVATION_TTL), see the workflow's comment. Lowered, never raised, by wake signals.
   */
  maxSleepMs: number;
  /** Carried across continue-as-new: holds released so far, and the wakes asked for and not yet reached (ISO). */
  released?: number;
  wakes?: string[];
}

/**
 * "Look again": `by` (ISO) asks for a read no later than that instant (a hold shorter than the sleep bound is
 * about to be taken); `maxSleepMs` lowers the bound (a process whose RESERVATION_TTL is shorter).
 */
export interface HoldExpiryWake {
  by?: string;
  maxSleepMs?: number;
}

export interface HoldExpiryState {
  shard: number;
  shards: number;
  maxSleepMs: number;
  /** When the sweeper reads its holds next (ISO); null while it is reading. */
  nextWakeAt: string | null;
  /** How long after a hold's expiry the sweeper may release it (it gathers expiries into one pass). */
  gatherMs: number;
  released: number;
  sweeps: number;
}

export const holdExpiryWakeSignal = defineSignal<[HoldExpiryWake]>('wake');
export const holdExpiryStateQuery = defineQuery<HoldExpiryState>('state');

/** What one pass of the sweeper's activity did, and when the shard's next hold ends. */
export interface HoldSweepResult {
  released: number;
  /** When the earliest remaining hold of the shard expires (ISO, Postgres' clock); null: none. */
  nextExpiresAt: string | null;
}


// ---- checkout:<key> — the checkout saga (src/workflows/commerce/checkout.ts)

export const CHECKOUT_WORKFLOW = 'checkout';
export type CheckoutWorkflow = (input: CheckoutInput) => Promise<CheckoutResult>;

export interface CheckoutAddress {
  line1: string;
  line2?: string;
  city: string;
  postal_code: string;
  country: string;
  region?: string;
}

export interface CheckoutInput {
  checkoutKey: string;
  cartId: string;
  storeId: string;
  customerId: string | null;
  /** A guest's email (no account), for the order's receipt; null or absent for signed-in shoppers. */
  customerEmail?: string | null;
  items: Array<{ variant_id: string; quantity: number; unit_price_cents: number }>;
  currency: string;
  paymentMethod: string;
  shippingAddress: CheckoutAddress;
  billingAddress: CheckoutAddress | null;
  /** Set when the cart was opened by a drop: its lines are priced by the drop. */
  dropId?: string | null;
  /** How long the holds are kept at least while the checkout runs (RESERVATION_TTL). */
  holdMs?: number;
  /**
   * How long one payment step (authorize, capture, void) may run before its worker is presumed gone and the
   * step runs again elsewhere (PAYMENT_STEP_TIMEOUT; every payment call is idempotent, so a retry is safe).
   */
  paymentStepMs?: number;
}

export type CheckoutResult =
  | { status: 'confirmed'; orderId: string }
  | {
      status: 'payment_failed';
      /**
       * `payment_method_rejected`: the provider refused the request outright (an unknown payment method, an amount
       * it does not take); declineCode is then its reason code and message its words. `payment_not_captured`: the
       * hold could not be captured (it lapsed or was cancelled at the provider); the order was cancelled, the stock
       * given back and the lines left the cart.
       */
      code: 'payment_declined' | 'requires_action' | 'payment_method_rejected' | 'payment_not_captured';
      declineCode: string | null;
      clientSecret: string | null;
      message?: string;
    }
  | { status: 'insufficient_stock'; items: Array<{ variant_id: string; requested: number; held: number }> }
  | { status: 'price_changed'; items: PriceCheckResult['changed'] }
  | { status: 'expired' };

export const checkoutWorkflowId = (checkoutKey: string) => `checkout:${checkoutKey}`;

/**
 * The shopper's answer, as soon as the checkout knows it: `confirmed` once the order is recorded, its stock sold
 * and its payment authorized (the capture follows after the answer), or the outcome that ended it. Sent with the
 * start (Update-with-Start) and by every retry under the key; the validator refuses a request for another cart.
 */
export interface CheckoutAnswerRequest {
  cartId: string;
}
export const checkoutAnswerUpdate = defineUpdate<CheckoutResult, [CheckoutAnswerRequest]>('answer');
/** One Update per cart under a key: a retry attaches to (or reads) the first one's outcome instead of adding one. */
export const checkoutAnswerUpdateId = (cartId: string) => `answer:${cartId}`;
/** Update failure type: the checkout failed unexpectedly (compensated), so it has no answer for the shopper. */
export const CHECKOUT_FAILED = 'CheckoutFailed';
export const checkoutPaymentKey = (checkoutKey: string) => `checkout:${checkoutKey}:authorize`;

export interface CheckoutLine {
  variant_id: string;
  quantity: number;
  unit_price_cents: number;
}

export interface ConfirmReservationsResult {
  ok: boolean;
  /** The held reservation rows backing the lines (when ok). */
  reservationIds: string[];
  /** Lines not (fully) held any more: what the shopper asked for, and what is still held for them. */
  missing: Array<{ variant_id: string; requested: number; held: number }>;
}

export interface PriceCheckResult {
  /** Lines whose price is not what the cart says any more (current null: no longer for sale). */
  changed: Array<{ variant_id: string; cart_unit_price_cents: number; current_unit_price_cents: number | null }>;
}

/** What a checkout's first step found: holds confirmed (and pushed out), or why the checkout stops here. */
export type CheckoutConfirmation =
  | {
      status: 'held';
      reservationIds: string[];
      /**
       * The store owner's tax rate (TAX_RATES_BPS), fixed here for the whole checkout: the amount authorized is the
       * order's total with it. Absent in histories from before tax (then 0).
       */
      taxRateBps?: number;
    }
  | { status: 'price_changed'; items: PriceCheckResult['changed'] }
  | { status: 'insufficient_stock'; items: ConfirmReservationsResult['missing'] };

/** Failure type of placeCheckoutOrder when the holds vanished between confirmation and commit. */
export const RESERVATIONS_LOST = 'ReservationsLost';
/** Failure type of placeCheckoutOrder when the holds' promise ended before the order could be placed. */
export const HOLDS_RAN_OUT = 'HoldsRanOut';


// ---- the commerce-reconcile schedule's runs (src/workflows/commerce/reconcileCommerce.ts)

export const RECONCILE_COMMERCE_WORKFLOW = 'reconcileCommerce';
export type ReconcileCommerceWorkflow = (scope?: ReconcileScope) => Promise<ReconcileResult>;

/**
 * Optional narrowing of one reconciliation run (tests use it so a run only repairs what that test planted; the
 * schedule passes nothing and sweeps everything).
 */
export interface ReconcileScope {
  /** Only reservations and hot variants of this store. */
  storeId?: string;
  /** Only payments whose business key starts with this (e.g. `checkout:<key>`). */
  paymentKeyPrefix?: string;
}

export interface ReconcileResult {
  authorizationsVoided: number;
  reservationsReleased: number;
  /** Hold-expiry sweepers found not running and started. */
  sweepersStarted: number;
  countersCorrected: number;
  /** Captured orders found without their seller charge (and receipt) and given one. */
  chargesRecorded: number;
}
