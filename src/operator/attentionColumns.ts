import type { Knex } from 'knex';

/** SQL expressions for one query of the "needs attention" union (src/operator/attention.ts), column by column. */
export interface AttentionColumns {
  kind: string;
  id: string;
  title: string;
  detail: string;
  /** null for an item without an amount. */
  amountCents: string | null;
  currency: string | null;
  at: string;
  /** What the business workflow id is made of (an id, a checkout key, a run key). */
  ref: string;
}

/** The select list every query of the union shares: the same columns, in the same order, with the same types. */
export function attentionSelect(db: Knex, c: AttentionColumns): Knex.Raw[] {
  return [
    db.raw('?::text AS kind', [c.kind]),
    db.raw(`${c.id} AS id`),
    db.raw(`(${c.title})::text AS title`),
    db.raw(`(${c.detail})::text AS detail`),
    db.raw(`(${c.amountCents ?? 'NULL'})::bigint AS amount_cents`),
    db.raw(`(${c.currency ?? 'NULL'})::text AS currency`),
    db.raw(`${c.at} AS at`),
    db.raw(`(${c.ref})::text AS ref`),
  ];
}
