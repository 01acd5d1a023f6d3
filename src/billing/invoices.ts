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
  customer_user_id: string | null;
  /** A guest customer (no account): their email (and name), instead of a user. */
  customer_email: string | null;
  customer_name: string | null;
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
  /** The rate in force when the price was quoted; overrides the issuer's configured rate (TAX_RATES_BPS). */
  taxRateBps?: number;
}

export interface DraftInvoiceInput {
  issuer: InvoiceIssuer;
  /** The customer's account; or, for a guest, customerEmail (and customerName) instead. */
  customerUserId?: string | null;
  customerEmail?: string | null;
  customerName?: string | null;
  currency: string;
  source: InvoiceSource;
  lines: DraftLineInput[];
}

export type TaxSettings = Pick<Config, 'TAX_RATES_BPS'>;

const MAX_LINES = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]{1,200}@[^\s@]{1,200}$/;

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
  if (input.customerUserId != null) {
    if (!UUID.test(input.customerUserId)) errors.push({ path: 'customerUserId', message: 'must be a user id' });
  } else if (input.customerEmail == null || !EMAIL.test(input.customerEmail)) {
    errors.push({ path: 'customerEmail', message: 'a customer is a user id or, for a guest, an email' });
  }
  if (input.customerName != null && (input.customerName.length < 1 || input.customerName.length > 200)) errors.push({ path: 'customerName', message: 'must be 1-200 characters' });
  if (!/^[A-Za-z]{3}$/.test(input.currency)) errors.push({ path: 'currency', message: 'must be an ISO 4217 code' });
  if (!(INVOICE_SOURCE_KINDS as readonly string[]).includes(input.source.kind)) errors.push({ path: 'source.kind', message: 'unknown source kind' });
  if (input.source.id.length < 1 || input.source.id.length > 200) errors.push({ path: 'source.id', message: 'must be 1-200 characters' });
  if (input.lines.length < 1 || input.lines.length > MAX_LINES) errors.push({ path: 'lines', message: `must be 1-${MAX_LINES} lines` });
  input.lines.forEach((l, i) => {
    const d = l.description.trim();
    if (d.length < 1 || d.length > 500 || d.includes('\u0000')) errors.push({ path: `lines.${i}.description`, message: 'must be 1-500 characters' });
    if (!Number.isSafeInteger(l.quantity) || l.quantity <= 0 || l.quantity > 2_147_483_647) errors.push({ path: `lines.${i}.quantity`, message: 'must be a positive integer' });
    if (!Number.isSafeInteger(l.unitAmountCents) || l.unitAmountCents < 0) errors.push({ path: `lines.${i}.unitAmountCents`, message: 'must be a non-negative integer' });
    if (l.taxRateBps !== undefined && (!Number.isInteger(l.taxRateBps) || l.taxRateBps < 0 || l.taxRateBps > 10_000)) errors.push({ path: `lines.${i}.taxRateBps`, message: 'must be 0-10000 basis points' });
  });
  return errors;
}

const loadForUpdate = (trx: Knex.Transaction, id: string) => trx<InvoiceRow>('invoices').where({ id }).forUpdate().first();

/** An invoice line's row: amounts and tax at the line's own rate, else the issuer's configured rate. */
function lineRow(l: DraftLineInput, position: number, issuerRate: number) {
  const rate = l.taxRateBps ?? issuerRate;
  try {
    return { position, description: l.description.trim(), quantity: l.quantity, unit_amount_cents: l.unitAmountCents, tax_rate_bps: rate, ...lineAmounts(l.quantity, l.unitAmountCents, rate) };
  } catch (err) {
    if (err instanceof RangeError) throw refusals.invalid([{ path: 'lines', message: err.message }], 'The invoice is not valid.');
    throw err;
  }
}

/**
 * A draft invoice for one charge, its lines and totals computed here (tax per line at the line's quoted rate, else
 * the issuer's configured rate). Idempotent: the same (issuer, source) again returns the invoice already made,
 * whatever its status (its lines are not replaced); made for another customer or currency it is a 409
 * `invoice_source_mismatch`.
 */
export async function createDraftInvoice(db: Knex, input: DraftInvoiceInput, settings: TaxSettings): Promise<InvoiceRow> {
  return (await createOrFindDraftInvoice(db, input, settings)).invoice;
}

/** createDraftInvoice, telling whether this call made the invoice (false: it existed, lines untouched). */
export async function createOrFindDraftInvoice(db: Knex, input: DraftInvoiceInput, settings: TaxSettings): Promise<{ invoice: InvoiceRow; created: boolean }> {
  const errors = validate(input);
  if (errors.length) throw refusals.invalid(errors, 'The invoice is not valid.');
  const issuerKey = issuerKeyOf(input.issuer);
  const currency = input.currency.toUpperCase();
  const rate = taxRateFor(settings.TAX_RATES_BPS, issuerKey);
  const lines = input.lines.map((l, i) => lineRow(l, i + 1, rate));
  const totals = invoiceTotals(lines);
  const customerUserId = input.customerUserId ?? null;
  const customerEmail = customerUserId ? null : input.customerEmail!.trim();
  return inTransaction(db, async (trx) => {
    const inserted = (await trx('invoices')
      .insert({
        issuer_kind: input.issuer.kind,
        issuer_user_id: input.issuer.kind === 'seller' ? input.issuer.userId : null,
        issuer_key: issuerKey,
        customer_user_id: customerUserId,
        customer_email: customerEmail,
        customer_name: customerUserId ? null : (input.customerName ?? null),
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
      if (existing.customer_user_id !== customerUserId || existing.customer_email !== customerEmail || existing.currency !== currency) {
        throw refusals.conflict(INVOICE_SOURCE_MISMATCH, 'This charge is invoiced already, to another customer or in another currency.', { invoice_id: existing.id });
      }
      return { invoice: existing, created: false };
    }
    await trx('invoice_lines').insert(lines.map((l) => ({ invoice_id: created.id, ...l })));
    return { invoice: created, created: true };
  });
}

/**
 * Appends a line to a draft (an invoice that grows, such as the platform's monthly fee invoice) and moves its
 * totals with it. The caller has read the draft FOR UPDATE in `trx`: a concurrent finalization then either waits for
 * this line or was waited for (and the draft read is no longer a draft: 409 here). Two statements: the line (its
 * position the next one, taken in the same statement), the totals.
 */
export async function appendLockedDraftLine(trx: Knex.Transaction, invoice: InvoiceRow, line: DraftLineInput, settings: TaxSettings): Promise<InvoiceLineRow> {
  return (await appendLockedDraftLines(trx, invoice, [line], settings))[0]!;
}

/** appendLockedDraftLine for many lines at once (a batch of fees): still two statements, positions in input order. */
export async function appendLockedDraftLines(trx: Knex.Transaction, invoice: InvoiceRow, lines: readonly DraftLineInput[], settings: TaxSettings): Promise<InvoiceLineRow[]> {
  if (invoice.status !== 'draft') throw refusals.conflict(INVOICE_FINALIZED, 'This invoice is finalized and never changes; corrections are credit notes.');
  if (lines.length === 0) return [];
  const rate = taxRateFor(settings.TAX_RATES_BPS, invoice.issuer_key);
  const rows = lines.map((l) => {
    const { position: _, ...row } = lineRow(l, 1, rate);
    return row;
  });
  const totals = invoiceTotals([{ amount_cents: Number(invoice.subtotal_cents), tax_cents: Number(invoice.tax_cents) }, ...rows]);
  // One snapshot for the whole insert: every row reads the same max, so positions are max + 1.. in order.
  const inserted = (await trx('invoice_lines')
    .insert(rows.map((row, i) => ({ invoice_id: invoice.id, position: trx.raw('(SELECT coalesce(max(position), 0) + ? FROM invoice_lines WHERE invoice_id = ?)', [i + 1, invoice.id]), ...row })))
    .returning('*')) as InvoiceLineRow[];
  await trx('invoices').where({ id: invoice.id }).update(totals);
  return inserted.sort((a, b) => a.position - b.position);
}

/**
 * Finalizes a draft: the next number of its issuer (counter row locked in this same transaction), issued_at now.
 * Finalizing a finalized (or void) invoice returns it as it is, with the number it already has.
 */
export async function finalizeInvoice(db: Knex, id: string): Promise<InvoiceRow> {
  return inTransaction(db, (trx) => finalizeInvoiceIn(trx, id));
}

/**
 * finalizeInvoice directly in the caller's transaction, without a savepoint: for a caller that takes the number as
 * the last step before its commit (a charge's receipt), where the counter stays locked until then.
 */
export async function finalizeInvoiceIn(trx: Knex.Transaction, id: string): Promise<InvoiceRow> {
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
