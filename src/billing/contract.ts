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
