import type { Knex } from 'knex';
import { feeInvoiceSourceId, PLATFORM_ISSUER_KEY } from './contract';
import { appendLockedDraftLines, createOrFindDraftInvoice, finalizeInvoice, type InvoiceRow, type TaxSettings } from './invoices';

/**
 * The platform's monthly fee invoice to a seller (issue 13): issued by the platform, to the seller, source kind
 * `fees`, id `feeInvoiceSourceId(seller, 'YYYY-MM')` (the UTC month of the charge). It is a DRAFT that grows by one
 * line per charge (quantity 1, unit = the fee; the platform's TAX_RATES_BPS rate is added on top per line, as on
 * every invoice) and is finalized by `closeFeeInvoices` once its month has ended.
 *
 * Close watermark: a line whose month is already finalized goes to the next open month (late events go to the next
 * period), so a finalized fee invoice never changes and no fee is lost. A seller charged in a second currency in one
 * month gets a second fee invoice for it, id `<seller>:<YYYY-MM>:<CURRENCY>` (one invoice has one currency).
 *
 * Concurrency: adding a line locks the draft row (FOR UPDATE) first, finalizing locks it too, so a line and a close
 * of the same draft queue on that row; whichever comes second sees the other's result (the line moves to the next
 * month; or the close's totals include the line).
 */

export type FeeMonth = string; // 'YYYY-MM' (UTC)

export const feeMonthOf = (at: Date): FeeMonth => at.toISOString().slice(0, 7);

export function nextFeeMonth(month: FeeMonth): FeeMonth {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

export interface FeeLineInput {
  sellerUserId: string;
  currency: string;
  /** Names the charge the fee was taken on. */
  description: string;
  feeCents: number;
  /** When the fee was earned (the charge's time): its UTC month, or the next open one. */
  at: Date;
}

const feeInvoiceAt = (trx: Knex.Transaction, sourceId: string) =>
  trx<InvoiceRow>('invoices').where({ issuer_key: PLATFORM_ISSUER_KEY, source_kind: 'fees', source_id: sourceId }).forUpdate().first();

/** Adds the fee as a line of the seller's open fee invoice; call it in the charge's transaction. Returns the invoice id. */
export async function addFeeLine(trx: Knex.Transaction, input: FeeLineInput, settings: TaxSettings): Promise<string> {
  const { description, feeCents, ...rest } = input;
  return (await addFeeLines(trx, { ...rest, lines: [{ description, feeCents }] }, settings))!;
}

export interface FeeLinesInput {
  sellerUserId: string;
  currency: string;
  /** When the fees were earned: one UTC month for all of them (group by feeMonthOf before calling). */
  at: Date;
  lines: ReadonlyArray<{ description: string; feeCents: number }>;
}

/**
 * addFeeLine for many fees of one seller, currency and month (a batch of receipts): the draft is locked once and
 * takes all the lines in one insert; same month, currency and watermark rules. Returns the invoice id (null: no line).
 */
export async function addFeeLines(trx: Knex.Transaction, input: FeeLinesInput, settings: TaxSettings): Promise<string | null> {
  const currency = input.currency.toUpperCase();
  let pending = input.lines.map((l) => ({ description: l.description, quantity: 1, unitAmountCents: l.feeCents }));
  if (pending.length === 0) return null;
  for (let month = feeMonthOf(input.at); ; ) {
    const base = feeInvoiceSourceId(input.sellerUserId, month);
    const baseRow = await feeInvoiceAt(trx, base);
    const sourceId = baseRow && baseRow.currency !== currency ? `${base}:${currency}` : base;
    const existing = sourceId === base ? baseRow : await feeInvoiceAt(trx, sourceId);
    if (existing) {
      if (existing.status !== 'draft') {
        month = nextFeeMonth(month); // closed: the watermark sends the lines to the next period
        continue;
      }
      await appendLockedDraftLines(trx, existing, pending, settings);
      return existing.id;
    }
    // A new draft is made with the first line (a draft holds at most MAX_LINES at creation); the rest are appended.
    const made = await createOrFindDraftInvoice(
      trx,
      { issuer: { kind: 'platform' }, customerUserId: input.sellerUserId, currency, source: { kind: 'fees', id: sourceId }, lines: [pending[0]!] },
      settings,
    );
    if (made.created) {
      pending = pending.slice(1);
      if (pending.length === 0) return made.invoice.id;
    }
    // go round again: the draft exists now (made by us, or by another charge a moment ago) and is locked by us next
  }
}

/**
 * Finalizes every draft fee invoice of a month ended before `before` (numbers from the platform's counter), each in
 * its own transaction, at most `limit` per call. Returns how many were finalized; call again until 0.
 */
export async function closeFeeInvoices(db: Knex, before: Date, limit = 200, progressed: () => void = () => {}): Promise<{ finalized: number; invoiceIds: string[] }> {
  const open = (await db('invoices')
    .where({ issuer_key: PLATFORM_ISSUER_KEY, source_kind: 'fees', status: 'draft' })
    .whereRaw(`split_part(source_id, ':', 2) < ?`, [feeMonthOf(before)])
    .orderBy('created_at')
    .limit(limit)
    .select('id')) as Array<{ id: string }>;
  const invoiceIds: string[] = [];
  for (const { id } of open) {
    const invoice = await finalizeInvoice(db, id);
    if (invoice.status === 'finalized') invoiceIds.push(id);
    progressed();
  }
  return { finalized: invoiceIds.length, invoiceIds };
}
