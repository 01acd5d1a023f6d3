import type { Knex } from 'knex';
import { notifyMany } from '../notifications/notify';
import { feeLineDescription, type ChargeSettings } from './charges';
import { addFeeLines, feeMonthOf } from './feeInvoices';
import { issuerPrefix, takeInvoiceNumbers } from './invoiceNumbers';
import { pledgeCollectedNotice, pledgeReceiptDescription } from './pledgeCharges';

/**
 * The receipts of a settlement page, issued in bulk (issue 13): collections record their charge with the receipt
 * 'deferred' (no per-creator counter or fee draft held by each collection), then this issues, for the campaign's
 * pledge charges still without a receipt, everything recordSellerCharge would have: the receipt (one line
 * "Pledge to <title> (<tier>)" at rate 0, total = captured), numbered in charge order from the creator's counter
 * (k numbers in one statement, gapless), the charge's invoice_id, the fee lines on the creator's fee draft, and the
 * `pledge_collected` notice naming the receipt. One transaction, a constant number of statements per page.
 *
 * Two callers on one campaign queue on a per-campaign advisory lock (the second then sees the first's receipts), so
 * no receipt is issued twice; UNIQUE (issuer_key, source_kind, source_id) on invoices is the final gate. Idempotent:
 * a page left by a dead attempt is issued by the next call. Call until it returns 0.
 */

interface PendingCharge {
  id: string;
  pledge_id: string;
  campaign_id: string;
  seller_user_id: string;
  customer_user_id: string;
  currency: string;
  captured_cents: number | string;
  fee_cents: number | string;
  created_at: Date;
  campaign_title: string;
  tier_title: string | null;
}

const lockKey = (campaignId: string) => `pledge_receipts:${campaignId.toLowerCase()}`;

export async function issueDeferredPledgeReceipts(db: Knex, campaignId: string, settings: ChargeSettings, limit = 500): Promise<number> {
  // With receipts off no charge is deferred: invoice_id NULL is then the normal state, not a receipt owed.
  if (!settings.ISSUE_RECEIPTS) return 0;
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [lockKey(campaignId)]);
    const { rows: pending } = (await trx.raw(
      `SELECT sc.id, sc.source_id AS pledge_id, p.campaign_id, sc.seller_user_id, sc.customer_user_id, sc.currency,
              sc.captured_cents, sc.fee_cents, sc.created_at, c.title AS campaign_title, t.title AS tier_title
         FROM pledges p
         JOIN seller_charges sc ON sc.source_kind = 'pledge' AND sc.source_id = p.id
         JOIN campaigns c ON c.id = p.campaign_id
         LEFT JOIN reward_tiers t ON t.id = p.reward_tier_id
        WHERE p.campaign_id = ? AND sc.invoice_id IS NULL AND NOT sc.receipt_waived AND sc.customer_user_id IS NOT NULL
        ORDER BY sc.created_at, sc.id
        LIMIT ?
        FOR UPDATE OF sc`,
      [campaignId, limit],
    )) as { rows: PendingCharge[] };
    if (pending.length === 0) return 0;

    // The drafts, one per charge (set-based); a receipt that exists already (never expected) is not made twice.
    const descriptions = pending.map((c) => pledgeReceiptDescription(c.campaign_title, c.tier_title).trim());
    const { rows: made } = (await trx.raw(
      `INSERT INTO invoices (issuer_kind, issuer_user_id, issuer_key, customer_user_id, currency, subtotal_cents, tax_cents, total_cents, source_kind, source_id)
       SELECT 'seller', b.seller, lower(b.seller::text), b.customer, upper(b.currency), b.amount, 0, b.amount, 'pledge', b.pledge::text
         FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::bigint[]) AS b(pledge, seller, customer, currency, amount)
       ON CONFLICT (issuer_key, source_kind, source_id) DO NOTHING
       RETURNING id, source_id`,
      [pending.map((c) => c.pledge_id), pending.map((c) => c.seller_user_id), pending.map((c) => c.customer_user_id), pending.map((c) => c.currency), pending.map((c) => Number(c.captured_cents))],
    )) as { rows: Array<{ id: string; source_id: string }> };
    const madeFor = new Map(made.map((r) => [r.source_id, r.id]));
    const fresh = pending.flatMap((c, i) => {
      const invoiceId = madeFor.get(c.pledge_id);
      return invoiceId ? [{ charge: c, invoiceId, description: descriptions[i]! }] : [];
    });
    if (fresh.length > 0) {
      await trx.raw(
        `INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_amount_cents, amount_cents, tax_rate_bps, tax_cents)
         SELECT l.invoice_id, 1, l.description, 1, l.amount, l.amount, 0, 0
           FROM unnest(?::uuid[], ?::text[], ?::bigint[]) AS l(invoice_id, description, amount)`,
        [fresh.map((f) => f.invoiceId), fresh.map((f) => f.description), fresh.map((f) => Number(f.charge.captured_cents))],
      );
    }

    // Numbers: per issuer (a campaign has one creator, but nothing here relies on it), in charge order, k at once.
    const numberOf = new Map<string, string>();
    for (const seller of new Set(fresh.map((f) => f.charge.seller_user_id))) {
      const ours = fresh.filter((f) => f.charge.seller_user_id === seller);
      const numbers = await takeInvoiceNumbers(trx, seller.toLowerCase(), issuerPrefix({ kind: 'seller', userId: seller }), ours.length);
      ours.forEach((f, i) => numberOf.set(f.invoiceId, numbers[i]!));
    }
    if (fresh.length > 0) {
      // One UPDATE finalizes them all; the invoices trigger checks each row's totals against its lines.
      await trx.raw(
        `UPDATE invoices i SET status = 'finalized', number = u.number, issued_at = now()
           FROM unnest(?::uuid[], ?::text[]) AS u(id, number)
          WHERE i.id = u.id AND i.status = 'draft'`,
        [fresh.map((f) => f.invoiceId), fresh.map((f) => numberOf.get(f.invoiceId)!)],
      );
    }

    // Every picked charge gets its receipt: the one made now, else the one that existed.
    await trx.raw(
      `UPDATE seller_charges sc SET invoice_id = i.id
         FROM invoices i
        WHERE sc.id = ANY(?::uuid[]) AND sc.invoice_id IS NULL
          AND i.issuer_key = lower(sc.seller_user_id::text) AND i.source_kind = 'pledge' AND i.source_id = sc.source_id::text`,
      [pending.map((c) => c.id)],
    );

    // The fees, on the creator's fee draft of each charge's month (usually one group: one lock, one insert).
    const groups = new Map<string, { seller: string; currency: string; at: Date; lines: Array<{ description: string; feeCents: number }> }>();
    for (const c of pending) {
      const fee = Number(c.fee_cents);
      if (fee <= 0) continue;
      const at = new Date(c.created_at);
      const key = `${c.seller_user_id}|${c.currency.toUpperCase()}|${feeMonthOf(at)}`;
      const group = groups.get(key) ?? { seller: c.seller_user_id, currency: c.currency, at, lines: [] };
      group.lines.push({ description: feeLineDescription({ kind: 'pledge', id: c.pledge_id }), feeCents: fee });
      groups.set(key, group);
    }
    for (const g of groups.values()) await addFeeLines(trx, { sellerUserId: g.seller, currency: g.currency, at: g.at, lines: g.lines }, settings);

    // The backers' notices naming their receipts (same dedupe key as an immediate receipt's: never twice).
    await notifyMany(
      trx,
      fresh.map(({ charge: c, invoiceId }) => {
        const notice = pledgeCollectedNotice(
          { pledgeId: c.pledge_id, campaignId: c.campaign_id, backerId: c.customer_user_id, currency: c.currency, capturedCents: Number(c.captured_cents) },
          c.campaign_title,
        );
        return { ...notice, data: { ...notice.data, invoice_id: invoiceId, invoice_number: numberOf.get(invoiceId) } };
      }),
    );
    return pending.length;
  });
}

/** Issues every deferred receipt of the campaign, page after page; returns how many. */
export async function issueAllDeferredPledgeReceipts(db: Knex, campaignId: string, settings: ChargeSettings, limit = 500): Promise<number> {
  let total = 0;
  for (let n = await issueDeferredPledgeReceipts(db, campaignId, settings, limit); n > 0; n = await issueDeferredPledgeReceipts(db, campaignId, settings, limit)) total += n;
  return total;
}
