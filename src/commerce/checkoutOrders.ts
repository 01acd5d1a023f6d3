import type { Db } from '../infra/db';
import type { CheckoutLine } from './contract';
import { lockCheckoutHolds } from './reservations';

/**
 * The order a checkout makes, once per checkout key (ON CONFLICT), and its cancellation when the checkout
 * compensates. Both are idempotent, so a retried or replayed step changes nothing twice.
 */

export interface CheckoutOrderRequest {
  checkoutKey: string;
  cartId: string;
  storeId: string;
  customerId: string | null;
  currency: string;
  items: CheckoutLine[];
  shippingAddress: Record<string, unknown>;
  billingAddress: Record<string, unknown> | null;
  paymentKey: string;
  /** Histories from before this field carry none: those orders are not checked against the holds. */
  reservationIds?: string[];
}

/**
 * Creates the order (confirmed), its items and its history once per checkout key. Returns its id.
 *
 * Only while the checkout's holds are held (`reservationIds`, see lockCheckoutHolds): an attempt that runs
 * late — its checkout timed out meanwhile and gave the holds back — refuses (ReservationsLostError) instead of
 * leaving a confirmed order no one pays for; one that got there first makes the release wait until its order
 * is committed, where the checkout's compensation then cancels it.
 */
export async function createCheckoutOrder(db: Db, input: CheckoutOrderRequest): Promise<{ orderId: string; created: boolean }> {
  return db.transaction(async (trx) => {
    if (input.reservationIds) await lockCheckoutHolds(trx, input.storeId, input.reservationIds);
    const subtotal = input.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0);
    const inserted = await trx.raw(
      `INSERT INTO orders (store_id, customer_id, cart_id, checkout_key, status, currency, subtotal_cents, total_cents,
                           shipping_address, billing_address, payment_key)
       VALUES (?, ?, ?, ?, 'confirmed', ?, ?, ?, ?::jsonb, ?::jsonb, ?)
       ON CONFLICT (checkout_key) DO NOTHING
       RETURNING id`,
      [
        input.storeId,
        input.customerId,
        input.cartId,
        input.checkoutKey,
        input.currency,
        subtotal,
        subtotal,
        JSON.stringify(input.shippingAddress),
        input.billingAddress ? JSON.stringify(input.billingAddress) : null,
        input.paymentKey,
      ],
    );
    const row = (inserted.rows as Array<{ id: string }>)[0];
    if (!row) {
      const existing = (await trx('orders').where({ checkout_key: input.checkoutKey }).first('id')) as { id: string };
      return { orderId: existing.id, created: false };
    }
    const catalog = (await trx('variants as v')
      .join('products as p', function () {
        this.on('p.id', '=', 'v.product_id').andOn('p.store_id', '=', 'v.store_id');
      })
      .where('v.store_id', input.storeId)
      .whereIn('v.id', input.items.map((i) => i.variant_id))
      .select('v.id', 'v.sku', 'p.name')) as Array<{ id: string; sku: string; name: string }>;
    const byId = new Map(catalog.map((c) => [c.id, c]));
    await trx('order_items').insert(
      input.items.map((i) => ({
        order_id: row.id,
        variant_id: i.variant_id,
        sku: byId.get(i.variant_id)?.sku ?? i.variant_id,
        name: byId.get(i.variant_id)?.name ?? 'Unknown item',
        quantity: i.quantity,
        unit_price_cents: i.unit_price_cents,
      })),
    );
    await trx('order_status_history').insert([
      { order_id: row.id, from_status: null, to_status: 'pending', actor: 'system', reason: 'checkout started' },
      { order_id: row.id, from_status: 'pending', to_status: 'confirmed', actor: 'system', reason: 'payment authorized' },
    ]);
    return { orderId: row.id, created: true };
  });
}

/** Compensation: the order (if any) becomes cancelled, with its history row. Idempotent. */
export async function cancelCheckoutOrder(db: Db, input: { checkoutKey: string; reason: string }): Promise<{ cancelled: boolean }> {
  return db.transaction(async (trx) => {
    const order = (await trx('orders').where({ checkout_key: input.checkoutKey }).forUpdate().first('id', 'status')) as { id: string; status: string } | undefined;
    if (!order || order.status === 'cancelled') return { cancelled: false };
    await trx('orders').where({ id: order.id }).update({ status: 'cancelled', updated_at: trx.fn.now() });
    await trx('order_status_history').insert({ order_id: order.id, from_status: order.status, to_status: 'cancelled', actor: 'system', reason: input.reason });
    return { cancelled: true };
  });
}
