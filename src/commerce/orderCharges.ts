import type { Knex } from 'knex';
import type { Config } from '../config';
import { makeChargeAvailable, recordSellerCharge, type ChargeSettings, type SellerChargeInput } from '../billing/charges';
import { recordOrderUsage, type OrderUsageSettings } from './orderUsage';

/**
 * An order's money after its capture (issue 13): the ledger's `capture` line for the order, and its seller charge
 * (src/billing/charges.ts: the charge row, balance entries, the platform fee, the receipt the store owner issues
 * to the shopper), recorded together in one transaction, once per order however often it runs. The checkout
 * records it right after the capture; the commerce reconciliation records it for a captured order that has none.
 * The charge's money stays pending until the order is delivered, then waits PAYOUT_DELAY_ORDER.
 */

export type OrderChargeSettings = ChargeSettings & OrderUsageSettings & Pick<Config, 'PAYOUT_DELAY_ORDER'>;

export const orderCaptureLedgerKey = (paymentKey: string) => `${paymentKey}:capture`;

export type OrderChargeResult =
  | { status: 'recorded'; chargeId: string; invoiceId: string | null; created: boolean }
  /** Nothing captured (yet): nothing to record. */
  | { status: 'not_captured' }
  /** Refunded in full before any charge was recorded (the order cancelled): no sale to record. */
  | { status: 'refunded' };

/**
 * The order is being cancelled (its refund under way with the provider) and has no charge yet: whether there will be
 * a sale to record depends on how the cancellation ends, so the step is tried again later (retryable).
 */
export class OrderBeingCancelledError extends Error {
  constructor(readonly orderId: string) {
    super(`order ${orderId} is being cancelled: its charge is recorded once the cancellation has ended`);
    this.name = 'OrderBeingCancelledError';
  }
}

interface OrderRow {
  id: string;
  store_id: string;
  owner_id: string;
  status: string;
  cancelling_since: Date | null;
  customer_id: string | null;
  customer_email: string | null;
  currency: string;
  subtotal_cents: string | number;
  payment_key: string | null;
}

interface PaymentRow {
  provider: string;
  provider_payment_id: string | null;
  captured_cents: string | number;
  refunded_cents: string | number;
}

/**
 * When the order's money becomes available: PAYOUT_DELAY_ORDER after it was delivered; pending ('infinity') until
 * then. In the caller's transaction, so the charge and the delivery agree whichever commits first.
 */
async function availableAt(trx: Knex.Transaction, orderId: string, delayMs: number): Promise<Date | 'pending'> {
  const row = (await trx('order_status_history')
    .where({ order_id: orderId, to_status: 'delivered' })
    .first(trx.raw('min(created_at) + make_interval(secs => ?) AS at', [delayMs / 1000]))) as { at: Date | null } | undefined;
  return row?.at ?? 'pending';
}

/** The receipt's lines: the order's items at their prices and tax rates (the order has no shipping line). */
async function receiptLines(trx: Knex.Transaction, orderId: string): Promise<SellerChargeInput['receiptLines']> {
  const items = (await trx('order_items').where({ order_id: orderId }).orderBy('id').select('name', 'sku', 'quantity', 'unit_price_cents', 'tax_rate_bps')) as Array<{
    name: string;
    sku: string;
    quantity: number;
    unit_price_cents: string | number;
    tax_rate_bps: number;
  }>;
  return items.map((i) => ({ description: `${i.name} (${i.sku})`, quantity: i.quantity, unitAmountCents: Number(i.unit_price_cents), taxRateBps: i.tax_rate_bps }));
}

/** The order's platform fee: its usage event's (written when it was placed; written now for an order placed before billing). */
async function orderFee(trx: Knex.Transaction, order: OrderRow, settings: OrderUsageSettings): Promise<number> {
  const usageOf = async () =>
    (await trx('usage_events').where({ store_id: order.store_id, kind: 'gmv', source_id: order.id }).first('fee_cents')) as { fee_cents: string | number } | undefined;
  // Placed under billing, the order's transaction wrote its event: read it (no plan lookup, no second insert).
  const placed = await usageOf();
  if (placed) return Number(placed.fee_cents);
  await recordOrderUsage(trx, { storeId: order.store_id, orderId: order.id, currency: order.currency, subtotalCents: Number(order.subtotal_cents) }, settings);
  return Number((await usageOf())!.fee_cents);
}

/**
 * Records the order's capture and charge. The order row is locked FOR SHARE, so a delivery or a cancellation
 * (FOR UPDATE) either committed before (its time, or its mark, is read here) or waits and then finds the charge.
 */
export async function recordOrderCharge(db: Knex, orderId: string, settings: OrderChargeSettings): Promise<OrderChargeResult> {
  return db.transaction(async (trx) => {
    const order = (
      await trx.raw(
        `SELECT o.id, o.store_id, s.owner_id, o.status, o.cancelling_since, o.customer_id, o.customer_email, o.currency, o.subtotal_cents, o.payment_key
           FROM orders o JOIN stores s ON s.id = o.store_id
          WHERE o.id = ? FOR SHARE OF o`,
        [orderId],
      )
    ).rows[0] as OrderRow | undefined;
    if (!order?.payment_key) return { status: 'not_captured' };
    const payment = (await trx('payments').where({ business_key: order.payment_key }).first('provider', 'provider_payment_id', 'captured_cents', 'refunded_cents')) as
      | PaymentRow
      | undefined;
    const captured = Number(payment?.captured_cents ?? 0);
    if (!payment || captured <= 0) return { status: 'not_captured' };

    const ledger = { provider: payment.provider, providerId: payment.provider_payment_id ?? order.payment_key, orderId: order.id };
    await trx.raw(
      `INSERT INTO ledger_transactions (order_id, kind, amount_cents, currency, provider, provider_id, business_key)
       VALUES (?, 'capture', ?, ?, ?, ?, ?)
       ON CONFLICT (business_key) DO NOTHING`,
      [order.id, captured, order.currency.toUpperCase(), ledger.provider, ledger.providerId, orderCaptureLedgerKey(order.payment_key)],
    );

    const charged = (await trx('seller_charges').where({ source_kind: 'order', source_id: order.id }).first('id', 'invoice_id')) as { id: string; invoice_id: string | null } | undefined;
    if (charged) return { status: 'recorded', chargeId: charged.id, invoiceId: charged.invoice_id, created: false };
    // Cancelled and refunded before the charge was recorded: nothing was sold, so there is no sale to receipt.
    if (Number(payment.refunded_cents) >= captured) return { status: 'refunded' };
    // A cancellation marks the order (FOR UPDATE, which waits for this lock) before it decides how to refund: by a
    // credit note when a charge exists, else by the payment's key. Recording one in between would race that choice.
    if (order.cancelling_since) throw new OrderBeingCancelledError(order.id);

    // A guest who gave no email has nobody to issue a receipt to: the receipt is waived (customer null), the fee
    // still goes on the seller's fee invoice.
    const customer = order.customer_id ? { userId: order.customer_id } : order.customer_email ? { email: order.customer_email } : null;
    const result = await recordSellerCharge(
      trx,
      {
        source: { kind: 'order', id: order.id },
        sellerUserId: order.owner_id,
        customer,
        currency: order.currency,
        capturedCents: captured,
        feeCents: await orderFee(trx, order, settings),
        paymentKey: order.payment_key,
        receiptLines: await receiptLines(trx, order.id),
        availableAt: await availableAt(trx, order.id, settings.PAYOUT_DELAY_ORDER),
        ledger,
      },
      settings,
    );
    return { status: 'recorded', ...result };
  });
}

/**
 * The order was delivered (in the caller's transaction, the one that records it): its charge's money becomes
 * available PAYOUT_DELAY_ORDER from now (the delivery's own time). No charge yet: recordOrderCharge reads the
 * delivery's time when it records one.
 */
export async function makeOrderChargeAvailable(trx: Knex.Transaction, orderId: string, delayMs: number): Promise<void> {
  const { at } = (await trx.raw('SELECT now() + make_interval(secs => ?) AS at', [delayMs / 1000])).rows[0] as { at: Date };
  await makeChargeAvailable(trx, { kind: 'order', id: orderId }, at);
}
