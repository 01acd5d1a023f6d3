import type { Knex } from 'knex';
import { notify } from '../notifications/notify';
import { formatMoney } from '../notifications/email/format';

/**
 * What a signed-in shopper is told about their order (inbox, live push and email, all from the one
 * notification): its confirmation, and the merchant's shipped / delivered / cancelled. Written in the
 * transaction that makes the change, deduplicated per order and status, so a retried step tells nobody twice.
 * Guests have no account to tell.
 */
const TOLD: Partial<Record<string, (total: string) => { title: string; body: string }>> = {
  confirmed: (total) => ({ title: 'Order confirmed', body: `Your order of ${total} is confirmed.` }),
  shipped: () => ({ title: 'Order shipped', body: 'Your order is on its way.' }),
  delivered: () => ({ title: 'Order delivered', body: 'Your order was delivered.' }),
  cancelled: (total) => ({ title: 'Order cancelled', body: `Your order was cancelled; ${total} is being returned to your card.` }),
};

export interface OrderForNotice {
  id: string;
  customer_id: string | null;
  total_cents: number;
  currency: string;
}

export async function tellCustomer(trx: Knex.Transaction, order: OrderForNotice, status: string): Promise<void> {
  const words = TOLD[status];
  if (!order.customer_id || !words) return;
  const { title, body } = words(formatMoney(Number(order.total_cents), order.currency));
  await notify(trx, {
    userId: order.customer_id,
    type: `order_${status}`,
    title,
    body,
    data: { order_id: order.id, status, total_cents: Number(order.total_cents), currency: order.currency },
    dedupeKey: `order_${status}:${order.id}`,
  });
}
