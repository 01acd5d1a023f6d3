import { z } from 'zod';
import { refusals } from '../domain/errors';
import type { OrderStatus } from '../domain/orders';
import type { Db } from '../infra/db';

/**
 * Orders as the API shows them: a summary, the summary with its status history, the full order with items,
 * and a store's list (newest first, keyset cursor). Callers decide who may see which order.
 */

export interface SummaryRow {
  id: string;
  store_id: string;
  customer_id: string | null;
  status: string;
  currency: string;
  subtotal_cents: string | number;
  tax_cents: string | number;
  total_cents: string | number;
  created_at: Date;
  updated_at: Date;
}
export const SUMMARY_COLUMNS = ['id', 'store_id', 'customer_id', 'status', 'currency', 'subtotal_cents', 'tax_cents', 'total_cents', 'created_at', 'updated_at'];

export const summaryJson = (o: SummaryRow) => ({
  id: o.id,
  store_id: o.store_id,
  customer_id: o.customer_id,
  status: o.status,
  currency: o.currency,
  subtotal_cents: Number(o.subtotal_cents),
  tax_cents: Number(o.tax_cents),
  total_cents: Number(o.total_cents),
  created_at: o.created_at.toISOString(),
  updated_at: o.updated_at.toISOString(),
});

async function statusHistory(db: Db, orderId: string) {
  const rows = (await db('order_status_history').where({ order_id: orderId }).orderBy('id').select('from_status', 'to_status', 'actor', 'reason', 'created_at')) as Array<{
    from_status: string | null;
    to_status: string;
    actor: string;
    reason: string | null;
    created_at: Date;
  }>;
  return rows.map((h) => ({ from_status: h.from_status, to_status: h.to_status, actor: h.actor, reason: h.reason, at: h.created_at.toISOString() }));
}

/** An order's summary (it must exist). */
export async function orderSummary(db: Db, orderId: string) {
  return summaryJson((await db('orders').where({ id: orderId }).first(SUMMARY_COLUMNS)) as SummaryRow);
}

/** An order's summary with its status history (it must exist). */
export async function orderWithHistory(db: Db, orderId: string) {
  return { ...(await orderSummary(db, orderId)), status_history: await statusHistory(db, orderId) };
}

/**
 * The order's receipt (the invoice its store owner issued for the capture), once its charge is recorded. The order's
 * confirmation is sent when it is placed, before the capture, so the receipt is shown here rather than in it.
 */
async function orderReceipt(db: Db, orderId: string) {
  const row = (await db('seller_charges as c')
    .join('invoices as i', 'i.id', 'c.invoice_id')
    .where({ 'c.source_kind': 'order', 'c.source_id': orderId })
    .first('i.id', 'i.number', 'i.status')) as { id: string; number: string; status: string } | undefined;
  return row ? { invoice_id: row.id, number: row.number, status: row.status, url: `/v1/invoices/${row.id}`, pdf_url: `/v1/invoices/${row.id}/pdf` } : null;
}

export interface OrderItemRow {
  variant_id: string;
  sku: string;
  name: string;
  quantity: number;
  unit_price_cents: string | number;
  tax_rate_bps: number;
  tax_cents: string | number;
}
export const ORDER_ITEM_COLUMNS = ['variant_id', 'sku', 'name', 'quantity', 'unit_price_cents', 'tax_rate_bps', 'tax_cents'];

// line_total_cents is before tax (quantity × unit price); the line's tax is added on top.
export const orderItemJson = (i: OrderItemRow) => ({
  ...i,
  unit_price_cents: Number(i.unit_price_cents),
  line_total_cents: i.quantity * Number(i.unit_price_cents),
  tax_cents: Number(i.tax_cents),
});

/** The whole order: items, addresses, status history, totals and receipt; not_found when there is none. */
export async function orderDetails(db: Db, orderId: string) {
  const order = (await db('orders').where({ id: orderId }).first()) as
    | (SummaryRow & { shipping_address: Record<string, unknown>; billing_address: Record<string, unknown> | null })
    | undefined;
  if (!order) throw refusals.notFound('order');
  const items = (await db('order_items').where({ order_id: orderId }).orderBy('id').select(ORDER_ITEM_COLUMNS)) as OrderItemRow[];
  return {
    id: order.id,
    store_id: order.store_id,
    customer_id: order.customer_id,
    status: order.status,
    currency: order.currency,
    items: items.map(orderItemJson),
    subtotal_cents: Number(order.subtotal_cents),
    tax_cents: Number(order.tax_cents),
    total_cents: Number(order.total_cents),
    shipping_address: order.shipping_address,
    billing_address: order.billing_address,
    status_history: await statusHistory(db, orderId),
    receipt: await orderReceipt(db, orderId),
    created_at: order.created_at.toISOString(),
  };
}

/** The whole order for its customer or its store's owner; anyone else: not_found, as for an unknown id. */
export async function orderFor(db: Db, orderId: string, callerId: string | undefined) {
  const row = (await db('orders as o').join('stores as s', 's.id', 'o.store_id').where('o.id', orderId).first('o.customer_id', 's.owner_id')) as
    | { customer_id: string | null; owner_id: string }
    | undefined;
  if (!row || (row.customer_id !== callerId && row.owner_id !== callerId)) throw refusals.notFound('order');
  return orderDetails(db, orderId);
}

const invalidCursor = () => refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!z.uuid().safeParse(id).success) throw invalidCursor();
  return id;
}

/** A page of the store's orders, newest first, optionally by status. */
export async function listStoreOrders(db: Db, storeId: string, query: { status?: OrderStatus; cursor?: string; limit: number }) {
  const q = db('orders as o').where('o.store_id', storeId).select(SUMMARY_COLUMNS.map((c) => `o.${c}`));
  if (query.status) q.where('o.status', query.status);
  if (query.cursor) {
    // created_at as text keeps its microseconds (a JS Date would drop them and skip or repeat rows).
    const after = (await db('orders').where({ id: decodeCursor(query.cursor), store_id: storeId }).first(db.raw('created_at::text AS at'), 'id')) as
      | { at: string; id: string }
      | undefined;
    if (!after) throw invalidCursor();
    q.whereRaw('(o.created_at < ?::timestamptz OR (o.created_at = ?::timestamptz AND o.id > ?))', [after.at, after.at, after.id]);
  }
  const rows = (await q.orderBy([{ column: 'o.created_at', order: 'desc' }, { column: 'o.id', order: 'asc' }]).limit(query.limit + 1)) as SummaryRow[];
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return { data: page.map(summaryJson), next_cursor: rows.length > query.limit && last ? encodeCursor(last.id) : null };
}
