import type { Knex } from 'knex';
import { attentionSelect } from '../operator/attentionColumns';

/**
 * Crowdfunding's part of the operators' "needs attention" list (src/operator/attention.ts): campaigns whose
 * settlement left pledges failed (in their retry window) or dropped, and each dropped pledge.
 */
export function campaignAttention(db: Knex): Knex.QueryBuilder[] {
  const settlementFailed = db('campaigns as c')
    .join('pledges as p', 'p.campaign_id', 'c.id')
    .whereIn('p.status', ['payment_failed', 'dropped'])
    .groupBy('c.id')
    .select(
      attentionSelect(db, {
        kind: 'settlement_failed',
        id: 'c.id',
        title: 'c.title',
        detail: `format('%s failed, %s dropped', count(*) FILTER (WHERE p.status = 'payment_failed'), count(*) FILTER (WHERE p.status = 'dropped'))`,
        amountCents: 'sum(p.amount_cents)',
        currency: 'c.currency',
        at: 'max(p.updated_at)',
        ref: 'c.id',
      }),
    );
  const droppedPledges = db('pledges as p')
    .join('campaigns as c', 'c.id', 'p.campaign_id')
    .where('p.status', 'dropped')
    .select(
      attentionSelect(db, {
        kind: 'pledge_dropped',
        id: 'p.id',
        title: 'c.title',
        detail: `coalesce(p.failure_code, 'the card was not fixed in time')`,
        amountCents: 'p.amount_cents',
        currency: 'p.currency',
        at: 'p.updated_at',
        ref: 'p.id',
      }),
    );
  return [settlementFailed, droppedPledges];
}
