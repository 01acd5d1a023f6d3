import type { Knex } from 'knex';
import type { BillingDifference, BillingReconcileScope } from './contract';

/**
 * The per-charge half of the billing reconciliation: for one page of seller_charges (keyset on id), what the
 * balance entries, the credit notes, the receipt, the ledger and the gateway's records say, compared. Read only.
 * Each query is one statement, so it sees one snapshot: a charge recorded in one transaction (row, entries, fee
 * line, receipt) is never seen half-written.
 *
 * The identity (DESIGN.md invariant 7): captured = seller share + platform fee + refunds, where the seller share
 * is what the entries leave the seller (sale − fee − refunds). It holds exactly when the entries are sale =
 * +captured, platform_fee = −fee and refunds = −refunded_cents, which is what is checked, with refunded_cents =
 * Σ credit notes not failed.
 *
 * Refunds (src/billing/creditNotes.ts): a credit note is taken with its `refund` entry (−amount) and counted in
 * refunded_cents at once, while pending; the provider's answer settles it: succeeded (a ledger `refund` line of its
 * amount) or failed (refunded_cents given back and a `refund_reversal` entry of +amount). So the refund entries net
 * of reversals are −Σ non-failed notes, and the payments row, which moves when the provider answers, may sit
 * anywhere between Σ succeeded and Σ non-failed notes (equal to both when none is pending).
 */

export interface ChargePageOptions {
  after: string | null;
  limit: number;
  /** Receipts are issued for every charge (ISSUE_RECEIPTS): a charge without one is a difference. */
  receiptsRequired: boolean;
}

interface ChargeRow {
  id: string;
  seller_user_id: string;
  captured_cents: string;
  fee_cents: string;
  refunded_cents: string;
  invoice_id: string | null;
  receipt_waived: boolean;
  sale_n: number;
  sale_sum: string;
  fee_n: number;
  fee_sum: string;
  refund_sum: string;
  non_failed: string;
  succeeded: string;
  receipt_status: string | null;
  receipt_total: string | null;
  line_n: number;
  line_sum: string;
}

interface PaymentRow {
  payment_key: string;
  first_charge: string;
  charge_ids: string[];
  captured: string;
  non_failed: string;
  succeeded: string;
  provider: string;
  p_captured: string;
  p_refunded: string;
  si_id: string | null;
  si_captured: string | null;
  si_refunded: string | null;
}

interface RefundRow {
  id: string;
  charge_id: string;
  amount_cents: string;
  provider_refund_id: string | null;
  provider: string;
  line_n: number;
  line_sum: string;
  r_amount: string | null;
  r_status: string | null;
}

const n = (v: string | number | null) => (v === null ? null : Number(v));
const sellersOf = (scope: BillingReconcileScope) => (scope.sellerUserIds?.length ? scope.sellerUserIds : null);

/** Credit notes per charge: what is refunded or being refunded (non-failed), and what has been refunded (succeeded). */
const CREDIT_NOTE_SUMS = `
  SELECT coalesce(sum(amount_cents) FILTER (WHERE status <> 'failed'), 0)::bigint AS non_failed,
         coalesce(sum(amount_cents) FILTER (WHERE status = 'succeeded'), 0)::bigint AS succeeded
    FROM credit_notes cn WHERE cn.charge_id = c.id`;

/** One page of charges with everything the checks compare, aggregated per charge. */
async function loadCharges(db: Knex, scope: BillingReconcileScope, opts: ChargePageOptions): Promise<ChargeRow[]> {
  const sellers = sellersOf(scope);
  const { rows } = (await db.raw(
    `WITH page AS (
       SELECT * FROM seller_charges
        WHERE (?::uuid IS NULL OR id > ?::uuid) AND (?::uuid[] IS NULL OR seller_user_id = ANY(?::uuid[]))
        ORDER BY id LIMIT ?
     )
     SELECT c.id, c.seller_user_id, c.captured_cents, c.fee_cents, c.refunded_cents, c.invoice_id, c.receipt_waived,
            e.sale_n, e.sale_sum, e.fee_n, e.fee_sum, e.refund_sum, n.non_failed, n.succeeded,
            i.status AS receipt_status, i.total_cents AS receipt_total, l.line_n, l.line_sum
       FROM page c
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE kind = 'sale')::int AS sale_n,
                coalesce(sum(amount_cents) FILTER (WHERE kind = 'sale'), 0)::bigint AS sale_sum,
                count(*) FILTER (WHERE kind = 'platform_fee')::int AS fee_n,
                coalesce(sum(amount_cents) FILTER (WHERE kind = 'platform_fee'), 0)::bigint AS fee_sum,
                coalesce(sum(amount_cents) FILTER (WHERE kind IN ('refund', 'refund_reversal')), 0)::bigint AS refund_sum
           FROM balance_entries b WHERE b.charge_id = c.id) e
       CROSS JOIN LATERAL (${CREDIT_NOTE_SUMS}) n
       LEFT JOIN invoices i ON i.id = c.invoice_id
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS line_n, coalesce(sum(amount_cents), 0)::bigint AS line_sum
           FROM ledger_transactions lt WHERE lt.seller_charge_id = c.id AND lt.kind = 'platform_fee') l
      ORDER BY c.id`,
    [opts.after, opts.after, sellers, sellers, opts.limit],
  )) as { rows: ChargeRow[] };
  return rows;
}

function chargeDifferences(c: ChargeRow, receiptsRequired: boolean): BillingDifference[] {
  const out: BillingDifference[] = [];
  const ids = { charge_id: c.id, seller_user_id: c.seller_user_id };
  const captured = Number(c.captured_cents);
  const fee = Number(c.fee_cents);
  const refunding = Number(c.non_failed);
  if (c.sale_n !== 1 || Number(c.sale_sum) !== captured) out.push({ kind: 'sale_entry', ids, expected: captured, actual: c.sale_n ? Number(c.sale_sum) : null, ...(c.sale_n > 1 ? { detail: `${c.sale_n} sale entries` } : {}) });
  if (c.fee_n !== (fee > 0 ? 1 : 0) || Number(c.fee_sum) !== -fee) out.push({ kind: 'fee_entry', ids, expected: -fee, actual: c.fee_n ? Number(c.fee_sum) : null, ...(c.fee_n > 1 ? { detail: `${c.fee_n} fee entries` } : {}) });
  if (Number(c.refund_sum) !== -refunding) out.push({ kind: 'refund_entries', ids, expected: -refunding, actual: Number(c.refund_sum) });
  if (Number(c.refunded_cents) !== refunding) out.push({ kind: 'charge_refunded', ids, expected: refunding, actual: Number(c.refunded_cents) });
  if (c.invoice_id === null) {
    // A waived receipt (nobody to issue it to) is not missing.
    if (receiptsRequired && !c.receipt_waived) out.push({ kind: 'receipt_missing', ids, expected: captured, actual: null });
  } else {
    const receipt = { ...ids, invoice_id: c.invoice_id };
    if (c.receipt_total === null || Number(c.receipt_total) !== captured) out.push({ kind: 'receipt_total', ids: receipt, expected: captured, actual: n(c.receipt_total) });
    if (c.receipt_status !== null && c.receipt_status !== 'finalized') out.push({ kind: 'receipt_status', ids: receipt, expected: 'finalized', actual: c.receipt_status });
  }
  // The fee line exists when the fee is > 0 (a line of 0 is not required, and not wrong either).
  if (c.line_n > 1 || Number(c.line_sum) !== fee) out.push({ kind: 'ledger_fee_line', ids, expected: fee, actual: c.line_n ? Number(c.line_sum) : null, ...(c.line_n > 1 ? { detail: `${c.line_n} fee lines` } : {}) });
  return out;
}

/**
 * The payments rows the page's charges were taken by, each compared once (on the page holding its first charge):
 * what the charges on it captured and refunded against the row, and for the simulated gateway its own intent.
 * Stripe's side is the payments row itself, kept in step by webhooks; no provider call is made here.
 */
async function paymentDifferences(db: Knex, chargeIds: string[]): Promise<BillingDifference[]> {
  const { rows } = (await db.raw(
    `WITH keys AS (SELECT DISTINCT payment_key FROM seller_charges WHERE id = ANY(?::uuid[])),
          per_payment AS (
            SELECT c.payment_key, (array_agg(c.id ORDER BY c.id))[1] AS first_charge, array_agg(c.id ORDER BY c.id) AS charge_ids,
                   sum(c.captured_cents)::bigint AS captured, sum(n.non_failed)::bigint AS non_failed, sum(n.succeeded)::bigint AS succeeded
              FROM seller_charges c JOIN keys USING (payment_key)
              CROSS JOIN LATERAL (${CREDIT_NOTE_SUMS}) n
             GROUP BY c.payment_key)
     SELECT pp.*, p.provider, p.captured_cents AS p_captured, p.refunded_cents AS p_refunded,
            si.id AS si_id, si.captured_cents AS si_captured, si.refunded_cents AS si_refunded
       FROM per_payment pp
       JOIN payments p ON p.business_key = pp.payment_key
       LEFT JOIN sim_payment_intents si ON p.provider = 'simulated' AND si.id = p.provider_payment_id
      WHERE pp.first_charge = ANY(?::uuid[])`,
    [chargeIds, chargeIds],
  )) as { rows: PaymentRow[] };
  const out: BillingDifference[] = [];
  for (const p of rows) {
    const ids = { payment_key: p.payment_key, charge_id: p.charge_ids.join(',') };
    const pCaptured = Number(p.p_captured);
    const pRefunded = Number(p.p_refunded);
    if (pCaptured < Number(p.captured)) out.push({ kind: 'gateway_captured', ids, expected: Number(p.captured), actual: pCaptured });
    if (pRefunded < Number(p.succeeded) || pRefunded > Number(p.non_failed)) {
      const detail = p.succeeded === p.non_failed ? undefined : `credit notes pending: ${Number(p.succeeded)}..${Number(p.non_failed)} is in step`;
      out.push({ kind: 'gateway_refunded', ids, expected: Number(p.succeeded), actual: pRefunded, ...(detail ? { detail } : {}) });
    }
    if (p.provider !== 'simulated') continue;
    if (p.si_id === null) out.push({ kind: 'gateway_intent', ids, expected: pCaptured, actual: null, detail: 'no payment intent at the simulated gateway' });
    else if (Number(p.si_captured) !== pCaptured) out.push({ kind: 'gateway_intent', ids: { ...ids, intent_id: p.si_id }, expected: pCaptured, actual: Number(p.si_captured), detail: 'captured' });
    else if (Number(p.si_refunded) !== pRefunded) out.push({ kind: 'gateway_intent', ids: { ...ids, intent_id: p.si_id }, expected: pRefunded, actual: Number(p.si_refunded), detail: 'refunded' });
  }
  return out;
}

/**
 * Succeeded credit notes of the page's charges: the ledger's refund line of each (its amount, once), and for the
 * simulated gateway its refund (succeeded, of the note's amount, on the charge's payment intent).
 */
async function refundDifferences(db: Knex, chargeIds: string[]): Promise<BillingDifference[]> {
  const { rows } = (await db.raw(
    `SELECT cn.id, cn.charge_id, cn.amount_cents, cn.provider_refund_id, p.provider, l.line_n, l.line_sum, r.amount_cents AS r_amount, r.status AS r_status
       FROM credit_notes cn
       JOIN seller_charges c ON c.id = cn.charge_id
       JOIN payments p ON p.business_key = c.payment_key
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS line_n, coalesce(sum(amount_cents), 0)::bigint AS line_sum
           FROM ledger_transactions lt WHERE lt.credit_note_id = cn.id AND lt.kind = 'refund') l
       LEFT JOIN sim_refunds r ON p.provider = 'simulated' AND r.id = cn.provider_refund_id AND r.payment_intent_id = p.provider_payment_id
      WHERE cn.charge_id = ANY(?::uuid[]) AND cn.status = 'succeeded'
      ORDER BY cn.id`,
    [chargeIds],
  )) as { rows: RefundRow[] };
  const out: BillingDifference[] = [];
  for (const r of rows) {
    const amount = Number(r.amount_cents);
    const ids = { charge_id: r.charge_id, credit_note_id: r.id, ...(r.provider_refund_id ? { provider_refund_id: r.provider_refund_id } : {}) };
    if (r.line_n !== 1 || Number(r.line_sum) !== amount) out.push({ kind: 'ledger_refund_line', ids, expected: amount, actual: r.line_n ? Number(r.line_sum) : null, ...(r.line_n > 1 ? { detail: `${r.line_n} refund lines` } : {}) });
    if (r.provider === 'simulated' && (r.r_status !== 'succeeded' || Number(r.r_amount) !== amount)) {
      out.push({ kind: 'gateway_refund_missing', ids, expected: amount, actual: r.r_status === 'succeeded' ? Number(r.r_amount) : null, ...(r.r_status && r.r_status !== 'succeeded' ? { detail: `refund ${r.r_status}` } : {}) });
    }
  }
  return out;
}

/** One page of charges checked: the differences found and the cursor of the next page. */
export async function checkChargePage(db: Knex, scope: BillingReconcileScope, opts: ChargePageOptions): Promise<{ checked: number; differences: BillingDifference[]; next: string | null }> {
  const charges = await loadCharges(db, scope, opts);
  if (!charges.length) return { checked: 0, differences: [], next: null };
  const ids = charges.map((c) => c.id);
  const differences = [...charges.flatMap((c) => chargeDifferences(c, opts.receiptsRequired)), ...(await paymentDifferences(db, ids)), ...(await refundDifferences(db, ids))];
  return { checked: charges.length, differences, next: charges.length < opts.limit ? null : ids[ids.length - 1]! };
}
