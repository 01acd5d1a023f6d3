import type { Knex } from 'knex';

/**
 * A seller's balance, per currency, read from the signed balance entries (sale +, platform fee −, refund −,
 * payout −, payout reversal +) and the payouts:
 * - pending = Σ entries whose available_at is still ahead (within the payout delay, or 'infinity' while an outcome
 *   is to come);
 * - available = Σ entries available now: what the next payout moves. It may be negative (a refund after a payout);
 *   nothing is paid out until it is positive again. A scheduled payout's entry is already in it;
 * - paid_out = Σ payouts the gateway paid.
 * Every number is recomputable from rows; nothing is cached.
 */

export interface CurrencyBalance {
  currency: string;
  pending_cents: number;
  available_cents: number;
  paid_out_cents: number;
}

type Q = Knex | Knex.Transaction;

/** The seller's balances, one per currency they have entries or payouts in, by currency; `at` defaults to the database's now. */
export async function sellerBalances(db: Q, sellerUserId: string, at?: Date): Promise<CurrencyBalance[]> {
  const { rows } = (await db.raw(
    `WITH e AS (
       SELECT currency,
              COALESCE(sum(amount_cents) FILTER (WHERE available_at > t.at), 0) AS pending,
              COALESCE(sum(amount_cents) FILTER (WHERE available_at <= t.at), 0) AS available
         FROM balance_entries, (SELECT COALESCE(?::timestamptz, now()) AS at) t
        WHERE seller_user_id = ?
        GROUP BY currency
     ), p AS (
       SELECT currency, sum(amount_cents) AS paid_out FROM payouts WHERE seller_user_id = ? AND status = 'paid' GROUP BY currency
     )
     SELECT currency, COALESCE(e.pending, 0)::bigint AS pending, COALESCE(e.available, 0)::bigint AS available, COALESCE(p.paid_out, 0)::bigint AS paid_out
       FROM e FULL JOIN p USING (currency)
      ORDER BY currency`,
    [at ?? null, sellerUserId, sellerUserId],
  )) as { rows: Array<{ currency: string; pending: string | number; available: string | number; paid_out: string | number }> };
  return rows.map((r) => ({ currency: r.currency, pending_cents: Number(r.pending), available_cents: Number(r.available), paid_out_cents: Number(r.paid_out) }));
}

/** What is available now per currency (negative included), read in the caller's transaction. */
export async function availableByCurrency(db: Q, sellerUserId: string): Promise<Map<string, number>> {
  const { rows } = (await db.raw(
    `SELECT currency, sum(amount_cents)::bigint AS available FROM balance_entries
      WHERE seller_user_id = ? AND available_at <= now() GROUP BY currency ORDER BY currency`,
    [sellerUserId],
  )) as { rows: Array<{ currency: string; available: string | number }> };
  return new Map(rows.map((r) => [r.currency, Number(r.available)]));
}

/**
 * A page of sellers a payout run visits, by id after `after`: those with a positive available balance in some
 * currency, and those with a payout still scheduled (an earlier run's transfer that never finished); `only` limits
 * it to some sellers.
 */
export async function sellersDueForPayout(db: Q, after: string | null, limit: number, only?: readonly string[]): Promise<string[]> {
  const scope = only ? [...only] : null;
  const { rows } = (await db.raw(
    `SELECT seller_user_id FROM (
       SELECT seller_user_id FROM balance_entries
        WHERE available_at <= now() AND (?::uuid IS NULL OR seller_user_id > ?::uuid) AND (?::uuid[] IS NULL OR seller_user_id = ANY(?::uuid[]))
        GROUP BY seller_user_id, currency HAVING sum(amount_cents) > 0
       UNION
       SELECT seller_user_id FROM payouts
        WHERE status = 'scheduled' AND (?::uuid IS NULL OR seller_user_id > ?::uuid) AND (?::uuid[] IS NULL OR seller_user_id = ANY(?::uuid[]))
     ) due
     ORDER BY seller_user_id LIMIT ?`,
    [after, after, scope, scope, after, after, scope, scope, limit],
  )) as { rows: Array<{ seller_user_id: string }> };
  return rows.map((r) => r.seller_user_id);
}
