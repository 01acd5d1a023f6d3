import { cursorTimeSql, decodeCursor, keysetPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import type { InvoiceStatus, IssuerKind } from './contract';
import { creditNotesOfInvoice, type CreditNoteJson } from './creditNotes';
import { invoiceLines, type InvoiceRow } from './invoices';

/**
 * Invoices as the API shows them (API.md, "Billing"). Who sees an invoice: its buyer (once it is finalized: a draft
 * is not issued yet), its issuer (a seller; the platform's are the operators') and operators; anyone else gets the
 * 404 an unknown id gets. Lists: the caller's invoices as buyer (finalized and void), or with `as=seller` those the
 * caller issued (drafts too), newest first, keyset cursors over (created_at, id).
 */

export const PLATFORM_NAME = 'Pledgeflow';

export interface InvoiceLineJson {
  description: string;
  quantity: number;
  unit_amount_cents: number;
  amount_cents: number;
  tax_cents: number;
}

export interface InvoiceSummaryJson {
  id: string;
  number: string | null;
  issuer: { kind: IssuerKind; user_id?: string; name: string };
  /** A guest customer (an order without an account) has no user id: their email instead. */
  customer: { user_id: string | null; name: string; email?: string };
  status: InvoiceStatus;
  subtotal_cents: number;
  tax_cents: number;
  total_cents: number;
  currency: string;
  issued_at: string | null;
  created_at: string;
  voided_at: string | null;
}

export interface InvoiceJson extends InvoiceSummaryJson {
  lines: InvoiceLineJson[];
  /** Credit notes referencing this invoice (its refunds), oldest first. */
  credit_notes: CreditNoteJson[];
}

type NamedRow = InvoiceRow & { issuer_name: string | null; customer_name: string };

const withNames = (db: Db) =>
  db('invoices as i')
    .leftJoin('users as iu', 'iu.id', 'i.issuer_user_id')
    .leftJoin('users as cu', 'cu.id', 'i.customer_user_id')
    .select('i.*', 'iu.name as issuer_name', db.raw(`COALESCE(cu.name, i.customer_name, i.customer_email) AS customer_name`));

function summary(r: NamedRow): InvoiceSummaryJson {
  return {
    id: r.id,
    number: r.number,
    issuer: r.issuer_kind === 'platform' ? { kind: 'platform', name: PLATFORM_NAME } : { kind: 'seller', user_id: r.issuer_user_id!, name: r.issuer_name ?? '' },
    customer: r.customer_user_id ? { user_id: r.customer_user_id, name: r.customer_name } : { user_id: null, name: r.customer_name, email: r.customer_email ?? '' },
    status: r.status,
    subtotal_cents: r.subtotal_cents,
    tax_cents: r.tax_cents,
    total_cents: r.total_cents,
    currency: r.currency,
    issued_at: r.issued_at ? r.issued_at.toISOString() : null,
    created_at: r.created_at.toISOString(),
    voided_at: r.voided_at ? r.voided_at.toISOString() : null,
  };
}

/** Whether the caller may see the invoice: operators; the issuing seller; the buyer once it is issued. */
export function canSeeInvoice(caller: Principal, r: Pick<InvoiceRow, 'issuer_user_id' | 'customer_user_id' | 'status'>): boolean {
  if (caller.role === 'operator') return true;
  if (r.issuer_user_id !== null && r.issuer_user_id === caller.id) return true;
  return r.customer_user_id === caller.id && r.status !== 'draft';
}

/** One invoice with its lines, by id (no authorization: the caller decides). */
export async function invoiceView(db: Db, id: string): Promise<InvoiceJson | undefined> {
  const row = (await withNames(db).where('i.id', id).first()) as NamedRow | undefined;
  if (!row) return undefined;
  const lines = await invoiceLines(db, id);
  return {
    ...summary(row),
    lines: lines.map((l) => ({ description: l.description, quantity: l.quantity, unit_amount_cents: l.unit_amount_cents, amount_cents: l.amount_cents, tax_cents: l.tax_cents })),
    credit_notes: await creditNotesOfInvoice(db, id),
  };
}

/** The invoice for the caller, or the 404 an unknown id gets. */
export async function invoiceFor(db: Db, caller: Principal, id: string): Promise<InvoiceJson> {
  const row = (await db<InvoiceRow>('invoices').where({ id }).first('issuer_user_id', 'customer_user_id', 'status')) as
    | Pick<InvoiceRow, 'issuer_user_id' | 'customer_user_id' | 'status'>
    | undefined;
  if (!row || !canSeeInvoice(caller, row)) throw refusals.notFound('invoice');
  return (await invoiceView(db, id))!;
}

export interface InvoiceListQuery {
  as: 'buyer' | 'seller';
  limit: number;
  cursor?: string;
}

export async function listMyInvoices(db: Db, caller: Principal, query: InvoiceListQuery): Promise<{ data: InvoiceSummaryJson[]; next_cursor: string | null }> {
  return invoicePage(db, query, (q) => (query.as === 'seller' ? q.where('i.issuer_user_id', caller.id) : q.where('i.customer_user_id', caller.id).whereNot('i.status', 'draft')));
}

/** A page of invoices newest first, keyset over (created_at, id), filtered by `where`. */
async function invoicePage(
  db: Db,
  query: Pick<InvoiceListQuery, 'limit' | 'cursor'>,
  where: (q: ReturnType<typeof withNames>) => unknown,
): Promise<{ data: InvoiceSummaryJson[]; next_cursor: string | null }> {
  const q = withNames(db).select(db.raw(`${cursorTimeSql('i.created_at')} AS cursor_time`));
  where(q);
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    if (!after) throw refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
    q.whereRaw('(i.created_at, i.id) < (?::timestamptz, ?::uuid)', [after.time, after.id]);
  }
  const rows = (await q.orderBy([{ column: 'i.created_at', order: 'desc' }, { column: 'i.id', order: 'desc' }]).limit(query.limit + 1)) as Array<
    NamedRow & { cursor_time: string }
  >;
  const page = keysetPage(rows, query.limit);
  return { data: page.rows.map(summary), next_cursor: page.nextCursor };
}

/**
 * GET /v1/me/fees: the platform's fee invoices to the caller (source kind `fees`, one per month), the current
 * month's draft included (it grows with each charge until the month closes), newest first.
 */
export async function listMyFeeInvoices(db: Db, caller: Principal, query: Pick<InvoiceListQuery, 'limit' | 'cursor'>): Promise<{ data: InvoiceSummaryJson[]; next_cursor: string | null }> {
  return invoicePage(db, query, (q) => q.where({ 'i.customer_user_id': caller.id, 'i.issuer_kind': 'platform', 'i.source_kind': 'fees' }));
}
