import type { Knex } from 'knex';
import { attentionSelect } from '../operator/attentionColumns';

/**
 * Drops' part of the operators' "needs attention" list (src/operator/attention.ts): drops whose workflow is behind
 * its own clock by more than the reconciliation grace: not open past its opening, still open past its close, or
 * still drawing. `ref` is the drop id (`drop:<id>`).
 */
export function dropAttention(db: Knex, graceSeconds: number): Knex.QueryBuilder[] {
  const late = (column: string) => db.raw(`${column} < now() - make_interval(secs => ?)`, [graceSeconds]);
  return [
    db('drops as d')
      .join('stores as s', 's.id', 'd.store_id')
      .where((w) =>
        w
          .where((a) => a.where('d.status', 'scheduled').andWhere(late('d.opens_at')))
          .orWhere((a) => a.where('d.status', 'open').whereNotNull('d.closes_at').andWhere(late('d.closes_at')))
          .orWhere((a) => a.where('d.status', 'drawing').andWhere(late('d.updated_at'))),
      )
      .select(
        attentionSelect(db, {
          kind: 'drop_stuck',
          id: 'd.id',
          title: `format('%s drop at %s', d.mode, s.name)`,
          detail: `format('still %s', d.status)`,
          amountCents: 'd.price_cents',
          currency: 'd.currency',
          at: 'd.updated_at',
          ref: 'd.id',
        }),
      ),
  ];
}
