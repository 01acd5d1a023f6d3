import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { restockOrderItems, type RestockedUnits, type RestockItem } from '../commerce/orderRestock';
import { creditNoteTax } from '../domain/creditNoteMath';
import { refusals, type FieldError } from '../domain/errors';
import type { Db } from '../infra/db';
import {
  CREDIT_NOTE_PREFIX_SUFFIX,
  INVOICE_NOT_FINALIZED,
  NOT_REFUNDABLE,
  REFUND_EXCEEDS_REMAINING,
  REFUND_REVERSAL_ENTRY_KIND,
  creditNoteCounterKey,
  issuerKeyOf,
  type ChargeSourceKind,
  type CreditNoteStatus,
} from './contract';
import { issuerPrefix, takeInvoiceNumber } from './invoiceNumbers';
import type { SellerChargeRow } from './charges';
import type { InvoiceRow } from './invoices';

/**
 * Credit notes in Postgres (issue 13): one per refund, against the charge's receipt (a charge without a receipt
 * gets credit notes without one, and without a tax part). Taking a refund is ONE
 * transaction: the charge locked, `refunded_cents` raised (the CHECK refunded <= captured is the final gate, mapped
 * to 422 `refund_exceeds_remaining`), the credit note numbered from its issuer's credit-note counter
 * (`<prefix>-CN-000001`, gapless: a rolled-back refund gives its number back), a `refund` balance entry (−amount,
 * available at once: a refund debits the seller's available balance even after a payout, which may make it
 * negative) and the restock of returned units. The provider is asked afterwards (./refunds.ts); its answer settles
 * the note: succeeded (the ledger's refund line, with the provider's refund id) or failed (the amount given back to
 * the charge and a `refund_reversal` entry, in one transaction). Platform fees are not refunded: the seller bears
 * them (Stripe's default), so a refund debits the seller the whole amount.
 */

export interface CreditNoteRow {
  id: string;
  charge_id: string;
  /** The receipt it credits; null when the charge has none (no tax part then). */
  invoice_id: string | null;
  issuer_key: string;
  number: string;
  currency: string;
  amount_cents: number;
  tax_cents: number;
  reason: string;
  refund_key: string;
  status: CreditNoteStatus;
  provider_refund_id: string | null;
  failure_code: string | null;
  created_by: string | null;
  request_hash: string | null;
  created_at: Date;
  updated_at: Date;
}

/** A seller_charges row as src/billing/charges.ts writes it. */
export type ChargeRow = SellerChargeRow;

export interface CreditNoteJson {
  id: string;
  number: string;
  invoice_id: string | null;
  amount_cents: number;
  tax_cents: number;
  currency: string;
  reason: string;
  status: CreditNoteStatus;
  created_at: string;
}

export const creditNoteJson = (r: CreditNoteRow): CreditNoteJson => ({
  id: r.id,
  number: r.number,
  invoice_id: r.invoice_id,
  amount_cents: Number(r.amount_cents),
  tax_cents: Number(r.tax_cents),
  currency: r.currency,
  reason: r.reason,
  status: r.status,
  created_at: r.created_at.toISOString(),
});

/** The credit notes of an invoice, oldest first (GET /v1/invoices/{id}, its PDF). */
export async function creditNotesOfInvoice(db: Db, invoiceId: string): Promise<CreditNoteJson[]> {
  return ((await db<CreditNoteRow>('credit_notes').where({ invoice_id: invoiceId }).orderBy([{ column: 'created_at' }, { column: 'id' }])) as CreditNoteRow[]).map(creditNoteJson);
}

export interface TakeRefund {
  source: { kind: ChargeSourceKind; id: string };
  /** 'remaining': whatever is left to refund when the charge is locked (a cancellation). */
  amountCents: number | 'remaining';
  reason: string;
  /** Already scoped by the caller (`user:<id>:<Idempotency-Key>`, `order:<id>:cancel:<n>`): one credit note per key and charge. */
  idempotencyKey: string;
  actorUserId: string | null;
  restock?: RestockItem[];
}

export type TakenRefund =
  | { kind: 'taken'; note: CreditNoteRow; charge: ChargeRow; restocked: RestockedUnits[] }
  /** The key's credit note exists already (a retry): as it is now. */
  | { kind: 'existing'; note: CreditNoteRow; charge: ChargeRow }
  /** 'remaining' and nothing is left to refund. */
  | { kind: 'nothing_left'; charge: ChargeRow };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The provider-facing key of the refund: short and fixed per (charge, caller's key). */
export const refundKeyOf = (chargeId: string, idempotencyKey: string) => `cn_${sha256(`${chargeId}\n${idempotencyKey}`).slice(0, 40)}`;

const requestHash = (t: TakeRefund) =>
  sha256(JSON.stringify([t.amountCents, t.reason, [...(t.restock ?? [])].sort((a, b) => a.variant_id.localeCompare(b.variant_id) || a.quantity - b.quantity)]));

const num = (v: number | string) => Number(v);
const chargeOf = (r: ChargeRow): ChargeRow => ({ ...r, captured_cents: num(r.captured_cents), fee_cents: num(r.fee_cents), refunded_cents: num(r.refunded_cents) });
const noteOf = (r: CreditNoteRow): CreditNoteRow => ({ ...r, amount_cents: num(r.amount_cents), tax_cents: num(r.tax_cents) });

const CHECK_VIOLATION = '23514';
const REFUND_GATE = 'seller_charges_refund_within_captured';
const isRefundGate = (err: unknown) => (err as { code?: string }).code === CHECK_VIOLATION && (err as { constraint?: string }).constraint === REFUND_GATE;

export async function chargeOfSource(db: Db | Knex.Transaction, source: TakeRefund['source']): Promise<ChargeRow | undefined> {
  const row = (await db<ChargeRow>('seller_charges').where({ source_kind: source.kind, source_id: source.id }).first()) as ChargeRow | undefined;
  return row && chargeOf(row);
}

const notRefundable = () => refusals.conflict(NOT_REFUNDABLE, 'Nothing was charged for this yet (the payment is not captured); there is nothing to refund.');

function validate(t: TakeRefund): FieldError[] {
  const errors: FieldError[] = [];
  if (t.amountCents !== 'remaining' && (!Number.isSafeInteger(t.amountCents) || t.amountCents <= 0)) errors.push({ path: 'amount_cents', message: 'must be a positive integer' });
  if (t.reason.trim().length < 1 || t.reason.length > 500 || t.reason.includes('\u0000')) errors.push({ path: 'reason', message: 'must be 1-500 characters' });
  if (t.idempotencyKey.length < 1) errors.push({ path: 'idempotencyKey', message: 'is required' });
  if (t.restock?.length && t.source.kind !== 'order') errors.push({ path: 'items', message: 'only an order has units to restock' });
  return errors;
}

/** The credit note's tax (src/domain/creditNoteMath.ts) from the receipt and the tax its standing credit notes already took. */
async function taxOf(trx: Knex.Transaction, invoice: InvoiceRow, amountCents: number, refundedAfterCents: number): Promise<number> {
  const [row] = (await trx('credit_notes').where({ invoice_id: invoice.id }).whereNot({ status: 'failed' }).sum({ credited: 'tax_cents' })) as Array<{ credited: string | null }>;
  return creditNoteTax({
    amountCents,
    refundedAfterCents,
    invoiceTotalCents: num(invoice.total_cents),
    invoiceTaxCents: num(invoice.tax_cents),
    creditedTaxCents: num(row?.credited ?? 0),
  });
}

/**
 * Takes a refund in one transaction (see the module comment). Refusals: 409 `not_refundable` (no charge), 409
 * `invoice_not_finalized` (its receipt was voided), 422 `refund_exceeds_remaining` with `remaining_cents`, 422 `idempotency_key_reused`
 * (the key's credit note was for another request), 422 `restock_exceeds_sold`. Nothing changes on any of them.
 */
export async function takeRefund(db: Db, t: TakeRefund): Promise<TakenRefund> {
  const errors = validate(t);
  if (errors.length) throw refusals.invalid(errors, 'The refund is not valid.');
  const hash = requestHash(t);
  try {
    return await db.transaction(async (trx): Promise<TakenRefund> => {
      const locked = (await trx<ChargeRow>('seller_charges').where({ source_kind: t.source.kind, source_id: t.source.id }).forUpdate().first()) as ChargeRow | undefined;
      if (!locked) throw notRefundable();
      const charge = chargeOf(locked);
      const refundKey = refundKeyOf(charge.id, t.idempotencyKey);
      const existing = (await trx<CreditNoteRow>('credit_notes').where({ refund_key: refundKey }).first()) as CreditNoteRow | undefined;
      if (existing) {
        if (existing.request_hash !== null && existing.request_hash !== hash) {
          throw refusals.unprocessable('idempotency_key_reused', 'This Idempotency-Key was already used for a different refund; use a new key for a new refund.', {
            credit_note_id: existing.id,
          });
        }
        return { kind: 'existing', note: noteOf(existing), charge };
      }
      const amount = t.amountCents === 'remaining' ? charge.captured_cents - charge.refunded_cents : t.amountCents;
      if (amount <= 0) return { kind: 'nothing_left', charge };

      const invoice = charge.invoice_id ? ((await trx<InvoiceRow>('invoices').where({ id: charge.invoice_id }).first()) as InvoiceRow | undefined) : undefined;
      if (invoice && invoice.status !== 'finalized') throw refusals.conflict(INVOICE_NOT_FINALIZED, `The charge's receipt is ${invoice.status}; credit notes are issued against finalized invoices only.`);

      // The final gate: Postgres refuses refunded_cents above captured_cents (mapped to 422 below).
      const [raised] = (await trx('seller_charges').where({ id: charge.id }).increment('refunded_cents', amount).returning('refunded_cents')) as Array<{ refunded_cents: string }>;
      const tax = invoice ? await taxOf(trx, invoice, amount, num(raised!.refunded_cents)) : 0;
      // The receipt's issuer numbers the note; a charge without a receipt: its seller.
      const issuerKey = invoice?.issuer_key ?? issuerKeyOf({ kind: 'seller', userId: charge.seller_user_id });
      const issuer = invoice?.issuer_kind === 'platform' ? ({ kind: 'platform' } as const) : ({ kind: 'seller', userId: invoice?.issuer_user_id ?? charge.seller_user_id } as const);
      const number = await takeInvoiceNumber(trx, creditNoteCounterKey(issuerKey), `${issuerPrefix(issuer)}${CREDIT_NOTE_PREFIX_SUFFIX}`);
      const [note] = (await trx('credit_notes')
        .insert({
          charge_id: charge.id,
          invoice_id: invoice?.id ?? null,
          issuer_key: issuerKey,
          number,
          currency: charge.currency,
          amount_cents: amount,
          tax_cents: tax,
          reason: t.reason,
          refund_key: refundKey,
          created_by: t.actorUserId,
          request_hash: hash,
        })
        .returning('*')) as CreditNoteRow[];
      await trx('balance_entries').insert({
        seller_user_id: charge.seller_user_id,
        currency: charge.currency,
        kind: 'refund',
        amount_cents: -amount,
        charge_id: charge.id,
        credit_note_id: note!.id,
        available_at: trx.fn.now(),
        business_key: `refund:${note!.id}`,
      });
      const restocked = t.restock?.length ? await restockOrderItems(trx, await orderOf(trx, t.source.id), t.restock) : [];
      return { kind: 'taken', note: noteOf(note!), charge: { ...charge, refunded_cents: num(raised!.refunded_cents) }, restocked };
    });
  } catch (err) {
    if (!isRefundGate(err)) throw err;
    const now = await chargeOfSource(db, t.source);
    const remaining = now ? now.captured_cents - now.refunded_cents : 0;
    throw refusals.unprocessable(REFUND_EXCEEDS_REMAINING, `Only ${remaining} (minor units) of this charge is left to refund.`, {
      remaining_cents: remaining,
      ...(now ? { captured_cents: now.captured_cents, refunded_cents: now.refunded_cents } : {}),
    });
  }
}

async function orderOf(trx: Knex.Transaction, orderId: string): Promise<{ id: string; store_id: string }> {
  return (await trx('orders').where({ id: orderId }).first('id', 'store_id')) as { id: string; store_id: string };
}

/** The provider refunded: the note succeeds and the ledger gets its refund line (once). A note settled already is returned as it is. */
export async function settleSucceeded(db: Db, note: CreditNoteRow, charge: ChargeRow, refund: { provider: string; refundId: string }): Promise<CreditNoteRow> {
  return db.transaction(async (trx) => {
    const [done] = (await trx('credit_notes')
      .where({ id: note.id, status: 'pending' })
      .update({ status: 'succeeded', provider_refund_id: refund.refundId, updated_at: trx.fn.now() })
      .returning('*')) as CreditNoteRow[];
    if (!done) return noteOf((await trx<CreditNoteRow>('credit_notes').where({ id: note.id }).first())!);
    await trx.raw(
      `INSERT INTO ledger_transactions (order_id, booking_id, pledge_id, seller_charge_id, credit_note_id, kind, amount_cents, currency, provider, provider_id, business_key)
       VALUES (?, ?, ?, ?, ?, 'refund', ?, ?, ?, ?, ?)
       ON CONFLICT (business_key) DO NOTHING`,
      [
        charge.source_kind === 'order' ? charge.source_id : null,
        charge.source_kind === 'booking' ? charge.source_id : null,
        charge.source_kind === 'pledge' ? charge.source_id : null,
        charge.id,
        note.id,
        note.amount_cents,
        note.currency,
        refund.provider,
        refund.refundId,
        `credit_note:${note.id}:refund`,
      ],
    );
    return noteOf(done);
  });
}

/** The provider refused: the note fails, its amount goes back to the charge and a reversal entry to the seller's balance (once). */
export async function settleFailed(db: Db, note: CreditNoteRow, charge: ChargeRow, failureCode: string): Promise<CreditNoteRow> {
  return db.transaction(async (trx) => {
    const [done] = (await trx('credit_notes')
      .where({ id: note.id, status: 'pending' })
      .update({ status: 'failed', failure_code: failureCode.slice(0, 200), updated_at: trx.fn.now() })
      .returning('*')) as CreditNoteRow[];
    if (!done) return noteOf((await trx<CreditNoteRow>('credit_notes').where({ id: note.id }).first())!);
    await trx('seller_charges').where({ id: charge.id }).decrement('refunded_cents', note.amount_cents);
    await trx('balance_entries').insert({
      seller_user_id: charge.seller_user_id,
      currency: charge.currency,
      kind: REFUND_REVERSAL_ENTRY_KIND,
      amount_cents: note.amount_cents,
      charge_id: charge.id,
      credit_note_id: note.id,
      available_at: trx.fn.now(),
      business_key: `refund_reversal:${note.id}`,
    });
    return noteOf(done);
  });
}
