import type { Knex } from 'knex';
import { attentionSelect } from '../operator/attentionColumns';

/**
 * Commerce's part of the operators' "needs attention" list (src/operator/attention.ts): orders still pending after
 * the reconciliation grace (a checkout that never confirmed nor compensated), and orders the system cancelled (a
 * payment that could not be captured). `ref` is the checkout key, what the `checkout:<key>` workflow id is made of.
 */
export function orderAttention(db: Knex, graceSeconds: number): Knex.QueryBuilder[] {
  const order = { id: 'o.id', title: 's.name', amountCents: 'o.total_cents', currency: 'o.currency', ref: 'o.checkout_key' };
  const stuck = db('orders as o')
    .join('stores as s', 's.id', 'o.store_id')
    .where('o.status', 'pending')
    .andWhere('o.created_at', '<', db.raw('now() - make_interval(secs => ?)', [graceSeconds]))
    .select(attentionSelect(db, { ...order, kind: 'order_stuck', detail: `'pending since checkout'`, at: 'o.created_at' }));
  const failed = db('orders as o')
    .join('stores as s', 's.id', 'o.store_id')
    .join('order_status_history as h', (j) => j.on('h.order_id', 'o.id').andOnVal('h.to_status', 'cancelled').andOnVal('h.actor', 'system'))
    .where('o.status', 'cancelled')
    .select(attentionSelect(db, { ...order, kind: 'order_failed', detail: `coalesce(h.reason, 'cancelled by the system')`, at: 'h.created_at' }));
  return [stuck, failed];
}
