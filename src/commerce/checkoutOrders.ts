import type { Knex } from 'knex';
import type { Db } from '../infra/db';
import { orderAmounts, type OrderAmounts } from '../domain/orderAmounts';
import type { CheckoutLine } from './contract';
import type { HotStock } from './hotStock';
import { tellCustomer } from './orderNotices';
import { recordOrderUsage, type OrderUsageSettings } from './orderUsage';
import { commitCheckoutHolds, uncommitCheckoutHolds } from './reservations';

/** The checkout's holds ran out (their promise, holdsEndAt) before its order could be placed: nothing was placed. */
export class HoldsRanOutError extends Error {
  constructor() {
    super('The holds of this checkout ran out before its order could be placed.');
    this.name = 'HoldsRanOutError';
  }
}

/**
 * The order a checkout places, once per checkout key (ON CONFLICT), with its stock sold in the same transaction,
 * and its cancellation when the checkout compensates. Both are idempotent, so a retried or replayed step changes
 * nothing twice.
 */

export interface CheckoutOrderRequest {
  checkoutKey: string;
  cartId: string;
  storeId: string;
  customerId: string | null;
  /** A guest's email (for the receipt); ignored for a signed-in shopper. */
  customerEmail?: string | null;
  currency: string;
  items: CheckoutLine[];
  /** The store owner's tax rate the checkout authorized the order's total with (absent: 0). */
  taxRateBps?: number;
  shippingAddress: Record<string, unknown>;
  billingAddress: Record<string, unknown> | null;
  paymentKey: string;
  /** The checkout's held reservations, one per line in item order: the stock the order sells. */
  reservationIds: string[];
  dropId?: string | null;
  /** When the holds' promise ends (epoch ms): past it the order is not placed (HoldsRanOutError). */
  holdsEndAt: number;
}

/**
 * Places the order: the order (confirmed), its items (with their tax) and its history, its usage event (GMV, for the
 * platform fee; once per order), and the checkout's holds sold to it (commitCheckoutHolds, in a savepoint of this
 * transaction), all committed together or not at all. Returns its id.
 *
 * So an order never exists without its stock sold: holds released or changed, or sold to another checkout of the
 * cart, make the commit refuse (ReservationsLostError) and the order goes with it. Nor is one placed after the
 * holds' promise (holdsEndAt): every statement is cut off there (a blocked insert, say) and nothing commits past
 * it (HoldsRanOutError); an attempt that still commits just before it is undone by the checkout's compensation,
 * which runs after giving the holds back (so a later attempt finds them gone). The order rows come first: the
 * inventory rows the commit locks are the hot ones, held only for the commit itself.
 */
export async function placeCheckoutOrder(db: Db, input: CheckoutOrderRequest, settings: OrderUsageSettings): Promise<{ orderId: string; created: boolean }> {
  const left = () => Math.floor(input.holdsEndAt - Date.now());
  if (left() <= 0) throw new HoldsRanOutError();
  try {
    return await db.transaction(async (trx) => {
      await trx.raw(`SELECT set_config('statement_timeout', ?, true)`, [`${left()}ms`]);
      const amounts = orderAmounts(input.items, input.taxRateBps ?? 0);
      const placed = await insertOrder(trx, input, amounts);
      await recordOrderUsage(trx, { storeId: input.storeId, orderId: placed.orderId, currency: input.currency, subtotalCents: amounts.subtotal_cents }, settings);
      await commitCheckoutHolds(trx, {
        storeId: input.storeId,
        reservationIds: input.reservationIds,
        quantities: input.items.map((i) => i.quantity),
        dropId: input.dropId ?? null,
        checkoutKey: input.checkoutKey,
      });
      await tellCustomer(trx, { id: placed.orderId, customer_id: input.customerId, total_cents: amounts.total_cents, currency: input.currency }, 'confirmed');
      if (left() <= 0) throw new HoldsRanOutError();
      return placed;
    });
  } catch (err) {
    // 57014: a statement cut off by the timeout above (nothing was committed).
    if ((err as { code?: string }).code === '57014' && left() <= 0) throw new HoldsRanOutError();
    throw err;
  }
}

/** The order with its items (names and SKUs copied from the catalog) and its history, in one statement; once per key. */
async function insertOrder(trx: Knex.Transaction, input: CheckoutOrderRequest, amounts: OrderAmounts): Promise<{ orderId: string; created: boolean }> {
  const inserted = await trx.raw(
    `WITH o AS (
       INSERT INTO orders (store_id, customer_id, customer_email, cart_id, checkout_key, status, currency, subtotal_cents, tax_cents, total_cents,
                           shipping_address, billing_address, payment_key)
       VALUES (?, ?, ?, ?, ?, 'confirmed', ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?)
       ON CONFLICT (checkout_key) DO NOTHING
       RETURNING id
     ), items AS (
       INSERT INTO order_items (order_id, variant_id, sku, name, quantity, unit_price_cents, tax_rate_bps, tax_cents)
       SELECT o.id, e.variant_id, coalesce(v.sku, e.variant_id::text), coalesce(p.name, 'Unknown item'), e.quantity, e.unit_price_cents, ?, e.tax_cents
         FROM o CROSS JOIN unnest(?::uuid[], ?::int[], ?::bigint[], ?::bigint[]) AS e(variant_id, quantity, unit_price_cents, tax_cents)
         LEFT JOIN variants v ON v.id = e.variant_id AND v.store_id = ?
         LEFT JOIN products p ON p.id = v.product_id AND p.store_id = v.store_id
     ), history AS (
       INSERT INTO order_status_history (order_id, from_status, to_status, actor, reason)
       SELECT o.id, h.from_status, h.to_status, 'system', h.reason
         FROM o CROSS JOIN (VALUES (1, NULL, 'pending', 'checkout started'), (2, 'pending', 'confirmed', 'payment authorized')) AS h(n, from_status, to_status, reason)
        ORDER BY h.n
     )
     SELECT id FROM o`,
    [
      input.storeId,
      input.customerId,
      input.customerId ? null : (input.customerEmail ?? null),
      input.cartId,
      input.checkoutKey,
      input.currency,
      amounts.subtotal_cents,
      amounts.tax_cents,
      amounts.total_cents,
      JSON.stringify(input.shippingAddress),
      input.billingAddress ? JSON.stringify(input.billingAddress) : null,
      input.paymentKey,
      amounts.taxRateBps,
      input.items.map((i) => i.variant_id),
      input.items.map((i) => i.quantity),
      input.items.map((i) => i.unit_price_cents),
      amounts.lines.map((l) => l.tax_cents),
      input.storeId,
    ],
  );
  const row = (inserted.rows as Array<{ id: string }>)[0];
  if (row) return { orderId: row.id, created: true };
  // Placed by an earlier attempt: the commit that follows finds its holds already sold to this key.
  const existing = (await trx('orders').where({ checkout_key: input.checkoutKey }).first('id')) as { id: string };
  return { orderId: existing.id, created: false };
}

/**
 * Compensation of placeCheckoutOrder, in one transaction: the order (if any) becomes cancelled, with its history
 * row, and what the checkout sold goes back to stock (uncommitCheckoutHolds; a hot variant's counter follows).
 * An order its merchant cancelled meanwhile (a capture still pending when they did) was restocked by that
 * cancellation and is left alone, so nothing is restocked twice. Idempotent.
 */
export async function cancelPlacedOrder(
  db: Db,
  hotStock: HotStock,
  input: { checkoutKey: string; storeId: string; reservationIds: string[]; dropId?: string | null; reason: string },
): Promise<{ cancelled: boolean }> {
  return db.transaction(async (trx) => {
    const order = (await trx('orders').where({ checkout_key: input.checkoutKey }).forUpdate().first('id', 'status')) as { id: string; status: string } | undefined;
    if (order?.status === 'cancelled') return { cancelled: false };
    if (order) {
      await trx('orders').where({ id: order.id }).update({ status: 'cancelled', updated_at: trx.fn.now() });
      await trx('order_status_history').insert({ order_id: order.id, from_status: order.status, to_status: 'cancelled', actor: 'system', reason: input.reason });
    }
    // Last, so the hot counter's units come back just before this commits.
    await uncommitCheckoutHolds(trx, { storeId: input.storeId, reservationIds: input.reservationIds, dropId: input.dropId ?? null, checkoutKey: input.checkoutKey }, hotStock);
    return { cancelled: order !== undefined };
  });
}
