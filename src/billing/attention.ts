import type { Knex } from 'knex';
import { attentionSelect } from '../operator/attentionColumns';
import { BILLING_DIFFERENCES_NOTIFICATION } from './contract';

/**
 * Billing's part of the operators' "needs attention" list (src/operator/attention.ts): failed payouts (`ref` the
 * seller, whose `payouts:<seller>` workflow paid them) and the scheduled reconciliation's runs that found
 * differences, as the operators were told of them (one row per run; `ref` the run key `<workflow id>:<run id>`).
 */
export function billingAttention(db: Knex): Knex.QueryBuilder[] {
  const failedPayouts = db('payouts as p')
    .join('users as u', 'u.id', 'p.seller_user_id')
    .where('p.status', 'failed')
    .select(
      attentionSelect(db, {
        kind: 'payout_failed',
        id: 'p.id',
        title: 'u.name',
        detail: `coalesce(p.failure_code, 'refused')`,
        amountCents: 'p.amount_cents',
        currency: 'p.currency',
        at: 'p.updated_at',
        ref: 'p.seller_user_id',
      }),
    );
  const differences = db('notifications as n')
    .where('n.type', BILLING_DIFFERENCES_NOTIFICATION)
    .groupByRaw(`n.data->>'run'`)
    .select(
      attentionSelect(db, {
        kind: 'billing_differences',
        id: '(array_agg(n.id ORDER BY n.id))[1]',
        title: 'min(n.title)',
        detail: 'min(n.body)',
        amountCents: null,
        currency: null,
        at: 'max(n.created_at)',
        ref: `n.data->>'run'`,
      }),
    );
  return [failedPayouts, differences];
}
