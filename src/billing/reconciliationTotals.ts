import type { Knex } from 'knex';
import { creditNoteCounterKey, PLATFORM_ISSUER_KEY, type BillingDifference, type BillingReconcileScope } from './contract';

/**
 * The aggregate half of the billing reconciliation, each check one page of its own keyset, read only:
 * - fee invoices, per seller and currency: Σ lines of the platform's fee invoices to the seller (drafts and
 *   finalized, not void) = Σ fee_cents of the seller's charges that were invoiced (receipt issued; the fee line is
 *   written in that same transaction, src/billing/charges.ts). Counted over all months at once, the open month's
 *   draft included: a fee earned in a month already closed goes to the next open month (feeInvoices.ts), so only
 *   the total is exact, and it is exact at any moment because line and charge commit together;
 * - payouts: one `payout` entry of −amount each; a failed payout exactly one reversal of +amount (others none);
 *   a paid payout one ledger `payout` line of its amount (others none);
 *   a paid payout's transfer at the gateway (the simulated gateway's sim_transfers when the payout went to one of
 *   its accounts; a Stripe transfer is only required to be named);
 * - invoice numbers: per issuer, the numbers of its invoices are exactly 1..N, N = its counter; its credit notes'
 *   likewise, from their own counter.
 */

export interface PageOptions {
  after: string | null;
  limit: number;
}

export interface CheckPageResult {
  checked: number;
  differences: BillingDifference[];
  next: string | null;
}

const sellersOf = (scope: BillingReconcileScope) => (scope.sellerUserIds?.length ? scope.sellerUserIds : null);
const nextOf = <T>(rows: T[], limit: number, key: (row: T) => string) => (rows.length < limit ? null : key(rows[rows.length - 1]!));

export async function checkFeeInvoicePage(db: Knex, scope: BillingReconcileScope, opts: PageOptions): Promise<CheckPageResult> {
  const sellers = sellersOf(scope);
  // Each side limited on its own (an index scan that stops), then merged: a page never reads the whole table.
  const { rows: page } = (await db.raw(
    `SELECT id FROM (
       (SELECT DISTINCT seller_user_id AS id FROM seller_charges
         WHERE (invoice_id IS NOT NULL OR receipt_waived) AND fee_cents > 0
           AND (?::uuid IS NULL OR seller_user_id > ?::uuid) AND (?::uuid[] IS NULL OR seller_user_id = ANY(?::uuid[]))
         ORDER BY 1 LIMIT ?)
       UNION
       (SELECT DISTINCT customer_user_id FROM invoices
         WHERE issuer_key = ? AND source_kind = 'fees' AND customer_user_id IS NOT NULL
           AND (?::uuid IS NULL OR customer_user_id > ?::uuid) AND (?::uuid[] IS NULL OR customer_user_id = ANY(?::uuid[]))
         ORDER BY 1 LIMIT ?)
     ) s ORDER BY id LIMIT ?`,
    [opts.after, opts.after, sellers, sellers, opts.limit, PLATFORM_ISSUER_KEY, opts.after, opts.after, sellers, sellers, opts.limit, opts.limit],
  )) as { rows: Array<{ id: string }> };
  if (!page.length) return { checked: 0, differences: [], next: null };
  const ids = page.map((r) => r.id);
  const { rows } = (await db.raw(
    `WITH fees AS (
       SELECT seller_user_id, currency, sum(fee_cents)::bigint AS fees, count(*)::int AS charges
         FROM seller_charges WHERE seller_user_id = ANY(?::uuid[]) AND (invoice_id IS NOT NULL OR receipt_waived) AND fee_cents > 0
        GROUP BY 1, 2),
     lines AS (
       SELECT i.customer_user_id AS seller_user_id, i.currency, sum(l.amount_cents)::bigint AS lines, array_agg(DISTINCT i.id) AS invoice_ids
         FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id
        WHERE i.issuer_key = ? AND i.source_kind = 'fees' AND i.status <> 'void' AND i.customer_user_id = ANY(?::uuid[])
        GROUP BY 1, 2)
     SELECT seller_user_id, currency, coalesce(f.fees, 0) AS fees, coalesce(l.lines, 0) AS lines, l.invoice_ids
       FROM fees f FULL JOIN lines l USING (seller_user_id, currency)
      WHERE coalesce(f.fees, 0) <> coalesce(l.lines, 0)
      ORDER BY seller_user_id, currency`,
    [ids, PLATFORM_ISSUER_KEY, ids],
  )) as { rows: Array<{ seller_user_id: string; currency: string; fees: string; lines: string; invoice_ids: string[] | null }> };
  const differences = rows.map((r) => ({
    kind: 'fee_invoice_total' as const,
    ids: { seller_user_id: r.seller_user_id, currency: r.currency, ...(r.invoice_ids ? { invoice_id: r.invoice_ids.join(',') } : {}) },
    expected: Number(r.fees),
    actual: Number(r.lines),
  }));
  return { checked: page.length, differences, next: nextOf(ids, opts.limit, (id) => id) };
}

interface PayoutRow {
  id: string;
  seller_user_id: string;
  status: string;
  amount_cents: string;
  transfer_id: string | null;
  payout_n: number;
  payout_sum: string;
  reversal_n: number;
  reversal_sum: string;
  line_n: number;
  line_sum: string;
  simulated: boolean;
  t_amount: string | null;
  t_status: string | null;
}

/** Whether the simulated gateway's transfers table exists (it came with payouts). */
async function hasSimTransfers(db: Knex): Promise<boolean> {
  const { rows } = (await db.raw(`SELECT to_regclass('sim_transfers') IS NOT NULL AS present`)) as { rows: Array<{ present: boolean }> };
  return rows[0]!.present;
}

export async function checkPayoutPage(db: Knex, scope: BillingReconcileScope, opts: PageOptions): Promise<CheckPageResult> {
  const sellers = sellersOf(scope);
  const transfers = await hasSimTransfers(db);
  const transferColumns = transfers
    ? `EXISTS (SELECT 1 FROM sim_connected_accounts a WHERE a.id = p.destination_account_id) AS simulated, t.amount_cents AS t_amount, t.status AS t_status`
    : `false AS simulated, NULL::bigint AS t_amount, NULL::text AS t_status`;
  const { rows } = (await db.raw(
    `WITH page AS (
       SELECT * FROM payouts
        WHERE (?::uuid IS NULL OR id > ?::uuid) AND (?::uuid[] IS NULL OR seller_user_id = ANY(?::uuid[]))
        ORDER BY id LIMIT ?
     )
     SELECT p.id, p.seller_user_id, p.status, p.amount_cents, p.transfer_id,
            e.payout_n, e.payout_sum, e.reversal_n, e.reversal_sum, l.line_n, l.line_sum, ${transferColumns}
       FROM page p
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE kind = 'payout')::int AS payout_n,
                coalesce(sum(amount_cents) FILTER (WHERE kind = 'payout'), 0)::bigint AS payout_sum,
                count(*) FILTER (WHERE kind = 'payout_reversal')::int AS reversal_n,
                coalesce(sum(amount_cents) FILTER (WHERE kind = 'payout_reversal'), 0)::bigint AS reversal_sum
           FROM balance_entries b WHERE b.payout_id = p.id) e
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS line_n, coalesce(sum(amount_cents), 0)::bigint AS line_sum
           FROM ledger_transactions lt WHERE lt.payout_id = p.id AND lt.kind = 'payout') l
       ${transfers ? 'LEFT JOIN sim_transfers t ON t.id = p.transfer_id' : ''}
      ORDER BY p.id`,
    [opts.after, opts.after, sellers, sellers, opts.limit],
  )) as { rows: PayoutRow[] };
  const differences: BillingDifference[] = [];
  for (const p of rows) {
    const ids = { payout_id: p.id, seller_user_id: p.seller_user_id };
    const amount = Number(p.amount_cents);
    if (p.payout_n !== 1 || Number(p.payout_sum) !== -amount) differences.push({ kind: 'payout_entries', ids, expected: -amount, actual: p.payout_n ? Number(p.payout_sum) : null, ...(p.payout_n > 1 ? { detail: `${p.payout_n} payout entries` } : {}) });
    const reversal = p.status === 'failed' ? amount : 0;
    if (p.reversal_n !== (p.status === 'failed' ? 1 : 0) || Number(p.reversal_sum) !== reversal) {
      differences.push({ kind: 'payout_reversal', ids, expected: reversal, actual: p.reversal_n ? Number(p.reversal_sum) : null, detail: `payout ${p.status}, ${p.reversal_n} reversal entries` });
    }
    // The ledger's payout line is written when the transfer is paid, once.
    const line = p.status === 'paid' ? amount : 0;
    if (p.line_n !== (p.status === 'paid' ? 1 : 0) || Number(p.line_sum) !== line) {
      differences.push({ kind: 'ledger_payout_line', ids, expected: line, actual: p.line_n ? Number(p.line_sum) : null, detail: `payout ${p.status}, ${p.line_n} ledger payout lines` });
    }
    if (p.status !== 'paid') continue;
    const transferIds = { ...ids, ...(p.transfer_id ? { transfer_id: p.transfer_id } : {}) };
    if (!p.transfer_id) differences.push({ kind: 'payout_transfer', ids: transferIds, expected: amount, actual: null, detail: 'paid without a transfer' });
    else if (p.simulated && (p.t_status !== 'paid' || Number(p.t_amount) !== amount)) {
      differences.push({ kind: 'payout_transfer', ids: transferIds, expected: amount, actual: p.t_status === 'paid' ? Number(p.t_amount) : null, ...(p.t_status && p.t_status !== 'paid' ? { detail: `transfer ${p.t_status}` } : {}) });
    }
  }
  return { checked: rows.length, differences, next: nextOf(rows, opts.limit, (r) => r.id) };
}

/** Credit notes are numbered from their own counter, `cn:<issuer key>` (creditNoteCounterKey). */
const CN = creditNoteCounterKey('');

/**
 * Number series (counter rows) of a page, each with the numbers its invoices, or its credit notes, hold (the
 * numeric part after the last '-'): exactly 1..N where N = next_number − 1, once each. A seller scope keeps the
 * sellers' own series (the platform's is everyone's).
 */
export async function checkInvoiceNumberPage(db: Knex, scope: BillingReconcileScope, opts: PageOptions): Promise<CheckPageResult> {
  const sellers = sellersOf(scope)?.flatMap((s) => [s.toLowerCase(), creditNoteCounterKey(s.toLowerCase())]) ?? null;
  const { rows } = (await db.raw(
    `WITH page AS (
       SELECT issuer_key, next_number - 1 AS last FROM invoice_number_counters
        WHERE (?::text IS NULL OR issuer_key COLLATE "C" > ?::text COLLATE "C") AND (?::text[] IS NULL OR issuer_key = ANY(?::text[]))
        ORDER BY issuer_key COLLATE "C" LIMIT ?
     ),
     used AS (
       SELECT issuer_key, substring(number from '([0-9]+)$')::bigint AS n FROM invoices
        WHERE number IS NOT NULL AND issuer_key IN (SELECT issuer_key FROM page)
       UNION ALL
       SELECT ? || issuer_key, substring(number from '([0-9]+)$')::bigint FROM credit_notes
        WHERE ? || issuer_key IN (SELECT issuer_key FROM page)
     ),
     counted AS (
       SELECT p.issuer_key, count(u.n)::int AS used, count(DISTINCT u.n) FILTER (WHERE u.n BETWEEN 1 AND p.last)::int AS present
         FROM page p LEFT JOIN used u USING (issuer_key) GROUP BY p.issuer_key),
     -- the holes between consecutive numbers held, and after the last one up to the counter
     holes AS (
       SELECT issuer_key, prev + 1 AS first, n - 1 AS last FROM (
         SELECT d.issuer_key, d.n, lag(d.n, 1, 0::bigint) OVER (PARTITION BY d.issuer_key ORDER BY d.n) AS prev
           FROM (SELECT DISTINCT u.issuer_key, u.n FROM used u JOIN page p USING (issuer_key) WHERE u.n BETWEEN 1 AND p.last
                 UNION SELECT issuer_key, last + 1 FROM page) d) x
        WHERE n - prev > 1)
     SELECT p.issuer_key, p.last::bigint AS last, c.used, c.present,
            (SELECT array_agg(CASE WHEN h.first = h.last THEN h.first::text ELSE h.first || '-' || h.last END ORDER BY h.first)
               FROM holes h WHERE h.issuer_key = p.issuer_key) AS missing
       FROM page p JOIN counted c USING (issuer_key)
      ORDER BY p.issuer_key COLLATE "C"`,
    [opts.after, opts.after, sellers, sellers, opts.limit, CN, CN],
  )) as { rows: Array<{ issuer_key: string; last: string; present: number; used: number; missing: string[] | null }> };
  const differences: BillingDifference[] = [];
  for (const r of rows) {
    const last = Number(r.last);
    if (r.present === last && r.used === last) continue;
    const shown = r.missing?.slice(0, 10) ?? [];
    const detail = [
      shown.length ? `missing ${shown.join(', ')}${(r.missing?.length ?? 0) > shown.length ? ', ...' : ''}` : '',
      r.used !== r.present ? `${r.used - r.present} numbers duplicated or beyond the counter` : '',
    ]
      .filter(Boolean)
      .join('; ');
    differences.push({ kind: 'invoice_number_gap', ids: { issuer_key: r.issuer_key }, expected: last, actual: r.present, detail });
  }
  return { checked: rows.length, differences, next: nextOf(rows, opts.limit, (r) => r.issuer_key) };
}
