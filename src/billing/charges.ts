import type { Knex } from 'knex';
import type { Config } from '../config';
import { refusals, type FieldError } from '../domain/errors';
import { sellerShareCents } from '../domain/platformFees';
import type { ChargeSourceKind } from './contract';
import { addFeeLine } from './feeInvoices';
import { createDraftInvoice, finalizeInvoiceIn, type DraftLineInput } from './invoices';

/**
 * Seller charges (issue 13): every successful charge records what it owes whom, in the transaction that records
 * the capture (so both commit together):
 * - the seller_charges row (captured, platform fee; refunds counted there later);
 * - balance entries: `sale` (+captured) and `platform_fee` (−fee, when > 0), available at the charge's available_at
 *   ('infinity' while pending an outcome: makeChargeAvailable fixes it);
 * - a ledger `platform_fee` line (when the fee is > 0), business key `fee:<charge id>`;
 * - with ISSUE_RECEIPTS: the receipt (a finalized invoice from the seller to the customer, source = the charge's
 *   source, its total exactly what was captured) and the fee as a line of the platform's monthly fee invoice.
 * Idempotent by (source kind, id): a replay finds the charge and adds nothing.
 */

/**
 * Given the caller's transaction, work in it directly (no savepoint: a failure here fails the caller's transaction,
 * which rolls back with the capture it records); else in a transaction of its own. One round trip fewer while the
 * seller's invoice counter is locked (it stays locked until the caller commits).
 */
const inCallerTransaction = <T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> =>
  (db as Knex.Transaction).isTransaction ? fn(db as Knex.Transaction) : db.transaction(fn);

export interface SellerChargeInput {
  source: { kind: ChargeSourceKind; id: string };
  sellerUserId: string;
  /** null: nobody to issue a receipt to (a guest who gave no email): the receipt is waived, the fee line is not. */
  customer: { userId: string } | { email: string; name?: string | null } | null;
  currency: string;
  capturedCents: number;
  /** The platform fee, computed by the caller with src/domain/platformFees.ts. */
  feeCents: number;
  /** payments.business_key of the payment that took the money. */
  paymentKey: string;
  receiptLines: Array<{ description: string; quantity: number; unitAmountCents: number; taxRateBps?: number }>;
  /** 'pending' = 'infinity' until makeChargeAvailable. */
  availableAt: Date | 'pending';
  ledger: { provider: string; providerId: string; campaignId?: string; pledgeId?: string; orderId?: string; bookingId?: string };
  /**
   * 'now' (default): the receipt and the fee-invoice line in this transaction. 'deferred': neither (the charge stays
   * invoice_id NULL, not waived); a batch issues both later (src/billing/pledgeReceipts.ts), keeping the seller's
   * counter and fee draft out of this transaction. Only for a charge with a customer.
   */
  receipt?: 'now' | 'deferred';
}

export type ChargeSettings = Pick<Config, 'TAX_RATES_BPS' | 'ISSUE_RECEIPTS'>;

export interface SellerChargeRow {
  id: string;
  source_kind: ChargeSourceKind;
  source_id: string;
  seller_user_id: string;
  customer_user_id: string | null;
  currency: string;
  captured_cents: number;
  fee_cents: number;
  refunded_cents: number;
  payment_key: string;
  invoice_id: string | null;
  receipt_waived: boolean;
  available_at: Date;
  created_at: Date;
}

/** A receipt whose total is not what was captured is a bug in the caller's lines: never issue it. */
export class ReceiptMismatchError extends Error {
  constructor(readonly source: SellerChargeInput['source'], readonly totalCents: number, readonly capturedCents: number) {
    super(`receipt for ${source.kind} ${source.id} totals ${totalCents}, but ${capturedCents} was captured`);
    this.name = 'ReceiptMismatchError';
  }
}

export const feeLedgerKey = (chargeId: string) => `fee:${chargeId}`;
export const saleEntryKey = (chargeId: string) => `charge:${chargeId}:sale`;
export const feeEntryKey = (chargeId: string) => `charge:${chargeId}:fee`;

function validate(input: SellerChargeInput): FieldError[] {
  const errors: FieldError[] = [];
  if (!Number.isSafeInteger(input.capturedCents) || input.capturedCents <= 0) errors.push({ path: 'capturedCents', message: 'must be a positive integer' });
  if (!Number.isSafeInteger(input.feeCents) || input.feeCents < 0 || input.feeCents > input.capturedCents) errors.push({ path: 'feeCents', message: 'must be 0..capturedCents' });
  if (input.receiptLines.length < 1) errors.push({ path: 'receiptLines', message: 'a receipt needs at least one line' });
  return errors;
}

export const feeLineDescription = (source: SellerChargeInput['source']) => `Platform fee: ${source.kind} ${source.id}`;

export interface RecordedCharge {
  chargeId: string;
  /** The receipt (null with ISSUE_RECEIPTS off) and its number. */
  invoiceId: string | null;
  invoiceNumber: string | null;
  /** False: the charge was recorded before (a replay), nothing was added. */
  created: boolean;
}

export async function recordSellerCharge(db: Knex, input: SellerChargeInput, settings: ChargeSettings): Promise<RecordedCharge> {
  const errors = validate(input);
  if (errors.length) throw refusals.invalid(errors, 'The charge is not valid.');
  const currency = input.currency.toUpperCase();
  const customer = input.customer;
  const customerUserId = customer && 'userId' in customer ? customer.userId : null;
  const availableAt = input.availableAt === 'pending' ? 'infinity' : input.availableAt;
  return inCallerTransaction(db, async (trx) => {
    const [charge] = (await trx('seller_charges')
      .insert({
        source_kind: input.source.kind,
        source_id: input.source.id,
        seller_user_id: input.sellerUserId,
        customer_user_id: customerUserId,
        currency,
        captured_cents: input.capturedCents,
        fee_cents: input.feeCents,
        payment_key: input.paymentKey,
        available_at: availableAt,
        receipt_waived: settings.ISSUE_RECEIPTS && customer === null,
      })
      .onConflict(['source_kind', 'source_id'])
      .ignore()
      .returning('*')) as SellerChargeRow[];
    if (!charge) {
      const existing = (await trx<SellerChargeRow>('seller_charges').where({ source_kind: input.source.kind, source_id: input.source.id }).first('id', 'invoice_id'))!;
      const invoice = existing.invoice_id ? ((await trx('invoices').where({ id: existing.invoice_id }).first('number')) as { number: string | null }) : undefined;
      return { chargeId: existing.id, invoiceId: existing.invoice_id, invoiceNumber: invoice?.number ?? null, created: false };
    }

    const entry = { seller_user_id: input.sellerUserId, currency, charge_id: charge.id, available_at: availableAt };
    const entries = [{ ...entry, kind: 'sale', amount_cents: input.capturedCents, business_key: saleEntryKey(charge.id) }];
    if (input.feeCents > 0) entries.push({ ...entry, kind: 'platform_fee', amount_cents: -input.feeCents, business_key: feeEntryKey(charge.id) });
    await trx('balance_entries').insert(entries);

    if (input.feeCents > 0) {
      const l = input.ledger;
      await trx('ledger_transactions').insert({
        campaign_id: l.campaignId ?? null,
        pledge_id: l.pledgeId ?? null,
        order_id: l.orderId ?? null,
        booking_id: l.bookingId ?? null,
        seller_charge_id: charge.id,
        kind: 'platform_fee',
        amount_cents: input.feeCents,
        currency,
        provider: l.provider,
        provider_id: l.providerId,
        business_key: feeLedgerKey(charge.id),
      });
    }

    if (!settings.ISSUE_RECEIPTS) return { chargeId: charge.id, invoiceId: null, invoiceNumber: null, created: true };
    if (customer === null) {
      if (input.feeCents > 0) await addFeeLine(trx, { sellerUserId: input.sellerUserId, currency, description: feeLineDescription(input.source), feeCents: input.feeCents, at: new Date(charge.created_at) }, settings);
      return { chargeId: charge.id, invoiceId: null, invoiceNumber: null, created: true };
    }

    if (input.receipt === 'deferred') return { chargeId: charge.id, invoiceId: null, invoiceNumber: null, created: true };

    // The receipt's number comes from the seller's counter, locked from finalization to commit: every collection of
    // one seller queues on it, so the draft and everything else come first and the locked part stays short.
    const draft = await createDraftInvoice(
      trx,
      {
        issuer: { kind: 'seller', userId: input.sellerUserId },
        ...('userId' in customer ? { customerUserId: customer.userId } : { customerEmail: customer.email, customerName: customer.name ?? null }),
        currency,
        source: input.source,
        lines: input.receiptLines as DraftLineInput[],
      },
      settings,
    );
    if (Number(draft.total_cents) !== input.capturedCents) throw new ReceiptMismatchError(input.source, Number(draft.total_cents), input.capturedCents);
    await trx('seller_charges').where({ id: charge.id }).update({ invoice_id: draft.id });
    const receipt = await finalizeInvoiceIn(trx, draft.id);
    if (input.feeCents > 0) {
      await addFeeLine(trx, { sellerUserId: input.sellerUserId, currency, description: feeLineDescription(input.source), feeCents: input.feeCents, at: new Date(charge.created_at) }, settings);
    }
    return { chargeId: charge.id, invoiceId: receipt.id, invoiceNumber: receipt.number, created: true };
  });
}

/**
 * Fixes when pending charges' money becomes available (a campaign settled, an order delivered, a booking completed):
 * the charge rows and their sale and fee entries. Only a pending ('infinity') date moves, so the first outcome wins
 * and a replay changes nothing. Returns how many charges moved.
 */
async function makeAvailable(db: Knex, charges: (q: Knex.QueryBuilder) => Knex.QueryBuilder, at: Date): Promise<number> {
  return db.transaction(async (trx) => {
    const pending = () => charges(trx('seller_charges')).where('available_at', 'infinity').select('id');
    await trx('balance_entries').whereIn('charge_id', pending()).whereIn('kind', ['sale', 'platform_fee']).where('available_at', 'infinity').update({ available_at: at });
    return (await charges(trx('seller_charges')).where('available_at', 'infinity').update({ available_at: at })) as unknown as number;
  });
}

export async function makeChargeAvailable(db: Knex, source: { kind: ChargeSourceKind; id: string }, at: Date): Promise<void> {
  await makeAvailable(db, (q) => q.where({ source_kind: source.kind, source_id: source.id }), at);
}

/** makeChargeAvailable for every collected pledge of a campaign at once (its settlement). */
export async function makeCampaignChargesAvailable(db: Knex, campaignId: string, at: Date): Promise<number> {
  return makeAvailable(db, (q) => q.where('source_kind', 'pledge').whereIn('source_id', db('pledges').where({ campaign_id: campaignId }).select('id')), at);
}

/** The seller's share of a charge before refunds (captured − fee). */
export const chargeSellerShare = (c: Pick<SellerChargeRow, 'captured_cents' | 'fee_cents'>) => sellerShareCents(Number(c.captured_cents), Number(c.fee_cents));
