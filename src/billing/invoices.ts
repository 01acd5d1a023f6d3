import type { Knex } from 'knex';
import type { Config } from '../config';
import { refusals, type FieldError } from '../domain/errors';
import { invoiceTotals, lineAmounts, taxRateFor } from '../domain/invoiceMath';
import {
  INVOICE_FINALIZED,
  INVOICE_FROZEN_SQLSTATE,
  INVOICE_NOT_FINALIZED,
  INVOICE_SOURCE_KINDS,
  INVOICE_SOURCE_MISMATCH,
  issuerKeyOf,
  type InvoiceIssuer,
  type InvoiceSource,
  type InvoiceStatus,
  type IssuerKind,
} from './contract';
import { issuerPrefix, takeInvoiceNumber } from './invoiceNumbers';

/**
 * Invoices (issue 13): a draft is created for one charge (idempotent per issuer and source), then finalized:
 * numbered from the issuer's counter in the same transaction, issued_at set, frozen by the database from then on
 * (migrations/20261205_01_invoices.ts). `issueInvoice` does both at once (what receipts for charges will call).
 * Tax: the issuer's rate from TAX_RATES_BPS, per line, half-even (src/domain/invoiceMath.ts).
 *
 * Every function takes a Knex or a transaction: given a transaction it works inside it (a savepoint), so a caller
 * can issue the invoice in the same transaction as the charge it records.
 */

export interface InvoiceRow {
  id: string;
  issuer_kind: IssuerKind;
  issuer_user_id: string | null;
  issuer_key: string;
  customer_user_id: string;
  number: string | null;
  status: InvoiceStatus;
  currency: string;
  subtotal_cents: number;
  tax_cents: number;
  total_cents: number;
  source_kind: InvoiceSource['kind'];
  source_id: string;
  issued_at: Date | null;
  created_at: Date;
  voided_at: Date | null;
}

export interface InvoiceLineRow {
  invoice_id: string;
  position: number;
  description: string;
  quantity: number;
  unit_amount_cents: number;
  amount_cents: number;
  tax_rate_bps: number;
  tax_cents: number;
}

export interface DraftLineInput {
  description: string;
  quantity: number;
  unitAmountCents: number;
}

export interface DraftInvoiceInput {
  issuer: InvoiceIssuer;
  customerUserId: string;
  currency: string;
  source: InvoiceSource;
  lines: DraftLineInput[];
}

export type TaxSettings = Pick<Config, 'TAX_RATES_BPS'>;

const MAX_LINES = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs fn in `db` when it is already a transaction (a savepoint keeps fn atomic), else in a new transaction. */
async function inTransaction<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(fn);
}

/** The database refuses a change to a frozen invoice (SQLSTATE PF013): a 409 for whoever tried. */
export async function frozenAsConflict<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if ((err as { code?: string }).code === INVOICE_FROZEN_SQLSTATE) {
      throw refusals.conflict(INVOICE_FINALIZED, 'This invoice is finalized and never changes; corrections are credit notes.');
    }
    throw err;
  }
}

function validate(input: DraftInvoiceInput): FieldError[] {
  const errors: FieldError[] = [];
  if (input.issuer.kind === 'seller' && !UUID.test(input.issuer.userId)) errors.push({ path: 'issuer.userId', message: 'must be a user id' });
  if (!UUID.test(input.customerUserId)) errors.push({ path: 'customerUserId', message: 'must be a user id' });
  if (!/^[A-Za-z]{3}$/.test(input.currency)) errors.push({ path: 'currency', message: 'must be an ISO 4217 code' });
  if (!(INVOICE_SOURCE_KINDS as readonly string[]).includes(input.source.kind)) errors.push({ path: 'source.kind', message: 'unknown source kind' });
  if (input.source.id.length < 1 || input.source.id.length > 200) errors.push({ path: 'source.id', message: 'must be 1-200 characters' });
  if (input.lines.length < 1 || input.lines.length > MAX_LINES) errors.push({ path: 'lines', message: `must be 1-${MAX_LINES} lines` });
  input.lines.forEach((l, i) => {
    const d = l.description.trim();
    if (d.length < 1 || d.length > 500 || d.includes('\u0000')) errors.push({ path: `lines.${i}.description`, message: 'must be 1-500 characters' });
    if (!Number.isSafeInteger(l.quantity) || l.quantity <= 0 || l.quantity > 2_147_483_647) errors.push({ path: `lines.${i}.quantity`, message: 'must be a positive integer' });
    if (!Number.isSafeInteger(l.unitAmountCents) || l.unitAmountCents < 0) errors.push({ path: `lines.${i}.unitAmountCents`, message: 'must be a non-negative integer' });
  });
  return errors;
}

const loadForUpdate = (trx: Knex.Transaction, id: string) => trx<InvoiceRow>('invoices').where({ id }).forUpdate().first();

/**
 * A draft invoice for one charge, its lines and totals computed here (tax at the issuer's configured rate).
 * Idempotent: the same (issuer, source) again returns the invoice already made, whatever its status (its lines are
 * not replaced); made for another customer or currency it is a 409 `invoice_source_mismatch`.
 */
export async function createDraftInvoice(db: Knex, input: DraftInvoiceInput, settings: TaxSettings): Promise<InvoiceRow> {
  const errors = validate(input);
  if (errors.length) throw refusals.invalid(errors, 'The invoice is not valid.');
  const issuerKey = issuerKeyOf(input.issuer);
  const currency = input.currency.toUpperCase();
  const rate = taxRateFor(settings.TAX_RATES_BPS, issuerKey);
  let lines;
  try {
    lines = input.lines.map((l, i) => ({ position: i + 1, description: l.description.trim(), quantity: l.quantity, unit_amount_cents: l.unitAmountCents, tax_rate_bps: rate, ...lineAmounts(l.quantity, l.unitAmountCents, rate) }));
  } catch (err) {
    if (err instanceof RangeError) throw refusals.invalid([{ path: 'lines', message: err.message }], 'The invoice is not valid.');
    throw err;
  }
  const totals = invoiceTotals(lines);
  return inTransaction(db, async (trx) => {
    const inserted = (await trx('invoices')
      .insert({
        issuer_kind: input.issuer.kind,
        issuer_user_id: input.issuer.kind === 'seller' ? input.issuer.userId : null,
        issuer_key: issuerKey,
        customer_user_id: input.customerUserId,
        currency,
        ...totals,
        source_kind: input.source.kind,
        source_id: input.source.id,
      })
      .onConflict(['issuer_key', 'source_kind', 'source_id'])
      .ignore()
      .returning('*')) as InvoiceRow[];
    const created = inserted[0];
    if (!created) {
      const existing = (await trx<InvoiceRow>('invoices').where({ issuer_key: issuerKey, source_kind: input.source.kind, source_id: input.source.id }).first())!;
      if (existing.customer_user_id !== input.customerUserId || existing.currency !== currency) {
        throw refusals.conflict(INVOICE_SOURCE_MISMATCH, 'This charge is invoiced already, to another customer or in another currency.', { invoice_id: existing.id });
      }
      return existing;
    }
    await trx('invoice_lines').insert(lines.map((l) => ({ invoice_id: created.id, ...l })));
    return created;
  });
}

/**
 * Finalizes a draft: the next number of its issuer (counter row locked in this same transaction), issued_at now.
 * Finalizing a finalized (or void) invoice returns it as it is, with the number it already has.
 */
export async function finalizeInvoice(db: Knex, id: string): Promise<InvoiceRow> {
  return inTransaction(db, async (trx) => {
    const invoice = await loadForUpdate(trx, id);
    if (!invoice) throw refusals.notFound('invoice');
    if (invoice.status !== 'draft') return invoice;
    const issuer: InvoiceIssuer = invoice.issuer_kind === 'platform' ? { kind: 'platform' } : { kind: 'seller', userId: invoice.issuer_user_id! };
    const number = await takeInvoiceNumber(trx, invoice.issuer_key, issuerPrefix(issuer));
    const [finalized] = (await trx('invoices')
      .where({ id, status: 'draft' })
      .update({ status: 'finalized', number, issued_at: trx.fn.now() })
      .returning('*')) as InvoiceRow[];
    return finalized!;
  });
}

/** Create and finalize in one transaction: the receipt of a charge. Idempotent per (issuer, source). */
export async function issueInvoice(db: Knex, input: DraftInvoiceInput, settings: TaxSettings): Promise<InvoiceRow> {
  return inTransaction(db, async (trx) => {
    const draft = await createDraftInvoice(trx, input, settings);
    return finalizeInvoice(trx, draft.id);
  });
}

/** Voids a finalized invoice (it keeps its number; nothing else changes). Void again: returned as it is. A draft: 409. */
export async function voidInvoice(db: Knex, id: string): Promise<InvoiceRow> {
  return frozenAsConflict(() =>
    inTransaction(db, async (trx) => {
      const invoice = await loadForUpdate(trx, id);
      if (!invoice) throw refusals.notFound('invoice');
      if (invoice.status === 'void') return invoice;
      if (invoice.status === 'draft') throw refusals.conflict(INVOICE_NOT_FINALIZED, 'Only a finalized invoice can be voided; a draft is simply not issued.');
      const [voided] = (await trx('invoices').where({ id }).update({ status: 'void', voided_at: trx.fn.now() }).returning('*')) as InvoiceRow[];
      return voided!;
    }),
  );
}

export async function invoiceLines(db: Knex, invoiceId: string): Promise<InvoiceLineRow[]> {
  return (await db<InvoiceLineRow>('invoice_lines').where({ invoice_id: invoiceId }).orderBy('position')) as InvoiceLineRow[];
}
