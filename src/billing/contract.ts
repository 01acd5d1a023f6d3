import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defineSignal } from '@temporalio/workflow';

/**
 * The billing domain's contract (issue 13): the names every part of billing shares (services, the API, later its
 * workflows and activities, and tests). A leaf: it imports nothing with I/O. For now: invoices (statuses, issuers,
 * what an invoice is for, failure names); workflows (payouts, subscriptions) come with their sessions.
 */

// ---- invoices (migrations/20261205_01_invoices.ts, src/billing/invoices.ts)

/** draft (no number, may still change) → finalized (numbered, frozen) → void (still numbered, still frozen). */
export const INVOICE_STATUSES = ['draft', 'finalized', 'void'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/** Sales invoices are issued by the seller (creator, merchant, provider); plan and fee invoices by the platform. */
export const ISSUER_KINDS = ['seller', 'platform'] as const;
export type IssuerKind = (typeof ISSUER_KINDS)[number];

export type InvoiceIssuer = { kind: 'platform' } | { kind: 'seller'; userId: string };

/** The issuer's key: the seller's user id, or 'platform'. Numbers run per key; TAX_RATES_BPS is keyed by it too. */
export const PLATFORM_ISSUER_KEY = 'platform';
export const issuerKeyOf = (issuer: InvoiceIssuer): string => (issuer.kind === 'platform' ? PLATFORM_ISSUER_KEY : issuer.userId.toLowerCase());

/** What an invoice is for: one invoice per (issuer, source kind, source id), so one charge is never invoiced twice. */
export const INVOICE_SOURCE_KINDS = ['order', 'booking', 'pledge', 'subscription', 'fees'] as const;
export type InvoiceSourceKind = (typeof INVOICE_SOURCE_KINDS)[number];

export interface InvoiceSource {
  kind: InvoiceSourceKind;
  /** The charged thing's id (order, booking, pledge id; a subscription period or fee month key). */
  id: string;
}

/** Refusal codes (problem+json `code`). */
export const INVOICE_FINALIZED = 'invoice_finalized'; // 409: a change to a finalized (or void) invoice
export const INVOICE_NOT_FINALIZED = 'invoice_not_finalized'; // 409: voiding a draft
export const INVOICE_SOURCE_MISMATCH = 'invoice_source_mismatch'; // 409: the source is invoiced already, to someone else or in another currency

/** SQLSTATE the invoice triggers raise for a change to a non-draft invoice or its lines. */
export const INVOICE_FROZEN_SQLSTATE = 'PF013';

/** Failure type names for billing activities (non-retryable), when workflows come. */
export const INVOICE_NOT_FOUND_FAILURE = 'InvoiceNotFound';
export const INVOICE_FINALIZED_FAILURE = 'InvoiceFinalized';

// ---- charges, fees and balances (migrations/20261206_01_billing_money.ts)

/** What a seller was paid for; one seller_charges row per (kind, id). */
export const CHARGE_SOURCE_KINDS = ['pledge', 'order', 'booking'] as const;
export type ChargeSourceKind = (typeof CHARGE_SOURCE_KINDS)[number];

/** The product lines platform fees are set per (PLATFORM_FEES; stores by their plan). */
export type ProductLine = 'crowdfunding' | 'store' | 'bookings';
export const productLineOf = (kind: ChargeSourceKind): ProductLine => (kind === 'pledge' ? 'crowdfunding' : kind === 'order' ? 'store' : 'bookings');

/** Signed entries of a seller's balance: sale +, platform fee −, refund −, payout −, payout reversal +. */
export const BALANCE_ENTRY_KINDS = ['sale', 'platform_fee', 'refund', 'payout', 'payout_reversal'] as const;
export type BalanceEntryKind = (typeof BALANCE_ENTRY_KINDS)[number];

/** The platform's monthly fee invoice to a seller: source kind 'fees', source id `<seller id>:<YYYY-MM>` (UTC month). */
export const feeInvoiceSourceId = (sellerUserId: string, month: string) => `${sellerUserId.toLowerCase()}:${month}`;

/** SQLSTATE of the balance_entries append-only trigger (only available_at may change). */
export const BALANCE_ENTRY_FROZEN_SQLSTATE = 'PF014';

/** Workflow closeFeeInvoices (CLOSE_FEE_INVOICES_WORKFLOW): finalizes the fee drafts of every month ended before `before`. */
export interface CloseFeeInvoicesInput {
  /** ISO instant; default: when the run starts (so the month that just ended, and any older one left open). */
  before?: string;
  /** Carried across continue-as-new. */
  finalizedSoFar?: number;
}
export interface CloseFeeInvoicesResult {
  before: string;
  finalized: number;
}
/** One page of the close: finalized in this call, and whether drafts may remain. */
export interface CloseFeeInvoicesPage {
  finalized: number;
  more: boolean;
}

// ---- refunds and credit notes

export const REFUND_EXCEEDS_REMAINING = 'refund_exceeds_remaining'; // 422: more than what is left to refund
export const NOT_REFUNDABLE = 'not_refundable'; // 409: nothing was charged (yet) for it
export const REFUND_FAILED = 'refund_failed'; // 502: the provider refused the refund; the credit note is failed, its amount given back
export const REFUND_PROVIDER_UNAVAILABLE = 'payment_provider_unavailable'; // 503: no answer from the provider; the same key resumes

/** pending (amount reserved on the charge, provider not yet done) → succeeded (money back) or failed (amount given back). */
export const CREDIT_NOTE_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type CreditNoteStatus = (typeof CREDIT_NOTE_STATUSES)[number];

/** The balance entries a refund writes: the refund (−, available at once) and, when the provider refused it, its reversal (+). */
export const REFUND_REVERSAL_ENTRY_KIND = 'refund_reversal';

/** Credit notes are numbered per issuer like invoices, from their own counter: `<issuer prefix>-CN-000001`. */
export const creditNoteCounterKey = (issuerKey: string) => `cn:${issuerKey}`;
export const CREDIT_NOTE_PREFIX_SUFFIX = '-CN';

// ---- payouts

export const PAYOUT_STATUSES = ['scheduled', 'paid', 'failed'] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];
/** One payouts workflow per seller: it pays out what is available, per currency, idempotently per run. */
export const payoutsWorkflowId = (sellerUserId: string) => `payouts:${sellerUserId.toLowerCase()}`;
/** The weekly Schedule that starts a payout run (workflowType PAYOUT_RUN_WORKFLOW) for every seller with money available. */
export const PAYOUT_RUN_WORKFLOW = 'payoutRun';
export const PAYOUTS_WORKFLOW = 'sellerPayouts';

/** One payout per seller, currency and run: the transfer's idempotency key, the ledger line's and the entry's. */
export const payoutBusinessKey = (sellerUserId: string, currency: string, runKey: string) => `payout:${sellerUserId.toLowerCase()}:${currency.toUpperCase()}:${runKey}`;
/** The `payout_reversal` entry that gives a failed payout's money back to the seller's available balance. */
export const payoutReversalKey = (payoutBusinessKey: string) => `${payoutBusinessKey}:reversal`;

/** A payout run asks a seller's workflow to pay out (signal-with-start); each run key is served once. */
export interface PayoutRequest {
  runKey: string;
}
export const payoutRequestedSignal = defineSignal<[PayoutRequest]>('payoutRequested');

export interface SellerPayoutsInput {
  sellerUserId: string;
  /** A transfer's activity timeout (PAYMENT_STEP_TIMEOUT), in ms: a worker killed mid-transfer is retried after it. */
  transferTimeoutMs: number;
  /** Run keys asked for before this run started (carried over by continue-as-new). */
  pending?: string[];
}

export interface PayoutRunInput {
  /** Sellers per page (default 100). */
  pageSize?: number;
  /** Tests and operators may name the run; the Schedule's runs use their first run id. */
  runKey?: string;
  /** Limits the run to these sellers (tests, an operator paying one seller now); absent = every seller due. */
  sellerUserIds?: string[];
  /** Where the paging stands when it continues as new. */
  after?: string | null;
  started?: number;
}

/** The `Status` search attribute of `payouts:<seller>`. */
export const SELLER_PAYOUT_STATUSES = ['paying', 'paid', 'failed', 'waiting_for_account', 'nothing_due'] as const;
export type SellerPayoutStatus = (typeof SELLER_PAYOUT_STATUSES)[number];

/** What a seller's payout step decided for one run (the payouts to transfer, or why nothing moves). */
export interface PayoutPlan {
  outcome: 'payouts' | 'no_account' | 'nothing_due';
  /** Scheduled payouts to transfer: this run's, and any an earlier run left scheduled. */
  payoutIds: string[];
}

export interface PayoutOutcome {
  payoutId: string;
  status: 'paid' | 'failed';
  amountCents: number;
  currency: string;
  failureCode?: string;
}

/** A seller's payout account (a connected account at the payment provider); `missing` until one is started. */
export const PAYOUT_ACCOUNT_STATUSES = ['missing', 'pending', 'ready'] as const;
export type PayoutAccountStatus = (typeof PAYOUT_ACCOUNT_STATUSES)[number];

/** Notification types the seller gets (inbox + email; essential mail: it is their money). */
export const PAYOUT_PAID_NOTICE = 'payout_paid';
export const PAYOUT_FAILED_NOTICE = 'payout_failed';
export const PAYOUT_ACCOUNT_MISSING_NOTICE = 'payout_account_missing';
/** Refusal codes. */
export const PAYOUT_ACCOUNT_REFUSED = 'payout_account_refused'; // 422: the provider refused the account (e.g. an unsupported country)

// ---- merchant plans (subscriptions)

export const SUBSCRIPTION_STATUSES = ['incomplete', 'active', 'past_due', 'unpaid', 'canceled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export const subscriptionWorkflowId = (storeId: string) => `subscription:${storeId.toLowerCase()}`;
export const SUBSCRIPTION_WORKFLOW = 'storeSubscription';
export const SUBSCRIPTION_PAST_DUE = 'subscription_past_due'; // 409/402: the store's plan is unpaid, new drops refused
export const PLAN_LIMIT_REACHED = 'plan_limit_reached'; // 409: the plan's limit (products, drops, hot variants)
export const SUBSCRIPTION_EXISTS = 'subscription_exists'; // 409: the store has a subscription already
export const SUBSCRIPTION_NOT_ACTIVE = 'subscription_not_active'; // 409: a plan change while past due, unpaid or canceled
export const SAME_PLAN = 'same_plan'; // 409: a change to the plan the store is on
export const UNKNOWN_PLAN = 'unknown_plan'; // 422: no such plan (or another interval or currency than the current one)

/** The limits a plan sets (src/billing/plans.ts PlanLimits), as the refusal names them. */
export type PlanLimitName = 'products' | 'drops_per_month' | 'hot_variants';

/** The period's invoice: source kind 'subscription', source id `<store id>:<period start ISO>`; a change's: `<...>:change:<n>`. */
export const subscriptionPeriodSourceId = (storeId: string, periodStart: Date) => `${storeId.toLowerCase()}:${periodStart.toISOString()}`;
export const subscriptionChangeSourceId = (storeId: string, periodStart: Date, n: number) => `${subscriptionPeriodSourceId(storeId, periodStart)}:change:${n}`;
/** The payment business key of a period's charge attempt (1, 2, ...): one charge per invoice and attempt. */
export const subscriptionChargeKey = (storeId: string, periodStart: Date, attempt: number) => `subscription:${subscriptionPeriodSourceId(storeId, periodStart)}:${attempt}`;
/** A plan change's charge (one attempt: a declined change is refused, not retried). */
export const subscriptionChangeChargeKey = (storeId: string, periodStart: Date, n: number) => `subscription:${subscriptionChangeSourceId(storeId, periodStart, n)}`;
/** The saved card periods are charged to (a payments setup row): one per store and card. */
export const subscriptionCardKey = (storeId: string, paymentMethod: string) => `subscription:${storeId.toLowerCase()}:card:${paymentMethod}`;

export interface SubscriptionWorkflowInput {
  storeId: string;
  /** Waits after each failed attempt before the next (SUBSCRIPTION_RETRY_SCHEDULE), in ms; its length is the number of retries. */
  retryScheduleMs: number[];
  /** How long one charge step may take before it is retried elsewhere (PAYMENT_STEP_TIMEOUT); default 2 minutes. */
  paymentStepTimeoutMs?: number;
}

/** What the workflow knows of its subscription (Query `subscriptionState`). */
export interface SubscriptionState {
  status: SubscriptionStatus;
  planId: string;
  periodStart: string;
  periodEnd: string;
  cancelAtPeriodEnd: boolean;
  /** Charge attempts made for the current period, and when the next retry is (null: none planned). */
  attempts: number;
  nextRetryAt: string | null;
  lastDeclineCode: string | null;
}

export interface ChangePlanRequest {
  planId: string;
}

/** Update `changePlan`: prorated; refused (validator) for unknown plans, the current plan, or unless active. */
export const changePlanUpdate = defineUpdate<SubscriptionState, [ChangePlanRequest]>('changePlan');
/** Update `cancelAtPeriodEnd`: the subscription ends at the current period's end, with no further invoice. */
export const cancelAtPeriodEndUpdate = defineUpdate<SubscriptionState, []>('cancelAtPeriodEnd');
export const subscriptionStateQuery = defineQuery<SubscriptionState>('subscriptionState');

/** Failure types of the subscription workflow's Updates (ApplicationFailure.type). */
export const SUBSCRIPTION_CHANGE_REFUSED_FAILURE = 'SubscriptionChangeRefused'; // details[0]: { code, message }
export const SUBSCRIPTION_CHANGE_DECLINED_FAILURE = 'SubscriptionChangeDeclined'; // details[0]: { declineCode }

// ---- operators

/** The daily billing reconciliation (ledger = invoices = gateway) and the monthly close of fee invoices. */
export const RECONCILE_BILLING_WORKFLOW = 'reconcileBilling';
export const CLOSE_FEE_INVOICES_WORKFLOW = 'closeFeeInvoices';

// ---- reconciliation (src/billing/reconciliation*.ts, workflow reconcileBilling)

/**
 * What the billing reconciliation compares; each difference names the rows involved (`ids`), what the other
 * records say the value should be (`expected`) and what it is (`actual`, null when the row is missing).
 */
export const BILLING_DIFFERENCE_KINDS = [
  'sale_entry', // the charge's sale balance entries ≠ one entry of +captured
  'fee_entry', // its platform_fee entries ≠ −fee_cents (none when the fee is 0)
  'refund_entries', // its refund entries net of refund reversals ≠ −Σ credit notes not failed
  'charge_refunded', // seller_charges.refunded_cents ≠ Σ non-failed credit notes
  'receipt_missing', // receipts are on (ISSUE_RECEIPTS) and the charge has none
  'receipt_total', // the receipt's total ≠ captured
  'receipt_status', // the receipt is not finalized
  'ledger_fee_line', // the charge's ledger platform_fee lines ≠ fee_cents (or more than one)
  'ledger_refund_line', // a succeeded credit note's ledger refund lines ≠ one line of its amount
  'gateway_captured', // the payments row captured less than the charges on it
  'gateway_refunded', // the payments row's refunds are outside Σ succeeded .. Σ non-failed credit notes
  'gateway_intent', // the simulated gateway's payment intent disagrees with the payments row (or is missing)
  'gateway_refund_missing', // a succeeded credit note has no succeeded refund of its amount at the (simulated) gateway
  'fee_invoice_total', // Σ a seller's fee invoice lines ≠ Σ fees of their invoiced charges (per currency)
  'payout_transfer', // a paid payout has no transfer of its amount at the gateway
  'payout_entries', // a payout's payout entries ≠ one entry of −amount
  'payout_reversal', // a failed payout's reversals ≠ one entry of +amount (or a reversal of a payout that did not fail)
  'ledger_payout_line', // a paid payout's ledger payout lines ≠ one line of its amount (or a line of a payout not paid)
  'invoice_number_gap', // an issuer's numbers are not exactly 1..N of its counter
] as const;
export type BillingDifferenceKind = (typeof BILLING_DIFFERENCE_KINDS)[number];

export interface BillingDifference {
  kind: BillingDifferenceKind;
  /** The rows involved: charge_id, seller_user_id, payment_key, credit_note_id, invoice_id, payout_id, issuer_key, currency... */
  ids: Record<string, string>;
  expected: number | string;
  actual: number | string | null;
  /** A word more where numbers do not say it (the missing invoice numbers, say). */
  detail?: string;
}

/** The checks, each paged by its own keyset (charge id, seller id, payout id, issuer key). */
export const BILLING_CHECKS = ['charges', 'fee_invoices', 'payouts', 'invoice_numbers'] as const;
export type BillingCheck = (typeof BILLING_CHECKS)[number];

/** Limits a run to some sellers (tests, an operator's look at one seller); empty = everything. */
export interface BillingReconcileScope {
  sellerUserIds?: string[];
}

/** What one activity of the run reports: counts and a sample (the full list goes to the logs), and where to go on. */
export interface BillingCheckStep {
  check: BillingCheck;
  /** How many rows (charges, sellers, payouts, issuers) it checked. */
  checked: number;
  byKind: Partial<Record<BillingDifferenceKind, number>>;
  sample: BillingDifference[];
  /** The keyset cursor to go on from; null when the check is done. */
  next: string | null;
}

export interface ReconcileBillingResult {
  checked: Record<BillingCheck, number>;
  differences: number;
  byKind: Partial<Record<BillingDifferenceKind, number>>;
  /** The first differences found (the rest are in the logs and the metric), for the run's result. */
  sample: BillingDifference[];
}

/** A run's input: its scope, and where it stands when it continues as new. */
export interface ReconcileBillingInput {
  scope?: BillingReconcileScope;
  resume?: { check: BillingCheck; after: string | null; result: ReconcileBillingResult };
}

export const BILLING_RECONCILIATION_DIFFERENCES_METRIC = 'billing_reconciliation_differences_total';
/** The operators' in-app notification when a run found differences. */
export const BILLING_DIFFERENCES_NOTIFICATION = 'billing_reconciliation_differences';
