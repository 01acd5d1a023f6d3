import { cursorTimeSql, decodeCursor, keysetPage } from '../campaigns/keysetCursor';
import { refusals } from '../domain/errors';
import type { Principal } from '../domain/roles';
import type { Db } from '../infra/db';
import { sellerBalances, type CurrencyBalance } from './balances';
import { payoutJson, type PayoutJson, type PayoutRow } from './payouts';

/**
 * A seller's money as the API shows it (API.md, "Billing"): only ever the caller's own. API.md draws the balance as
 * one currency object; a seller paid in several currencies has one balance per currency, so the answer is the list
 * `data` (one object per currency, by currency) and, for clients written against the single object, the first
 * currency's fields at the top level too (zeros and a null currency when there is nothing yet).
 */

export interface BalanceJson extends Omit<CurrencyBalance, 'currency'> {
  currency: string | null;
  data: CurrencyBalance[];
}

export async function myBalance(db: Db, caller: Principal): Promise<BalanceJson> {
  const data = await sellerBalances(db, caller.id);
  const first = data[0] ?? { currency: null, pending_cents: 0, available_cents: 0, paid_out_cents: 0 };
  return { ...first, data };
}

/** GET /v1/me/payouts: the caller's payouts, newest first, keyset over (created_at, id). */
export async function listMyPayouts(db: Db, caller: Principal, query: { limit: number; cursor?: string }): Promise<{ data: PayoutJson[]; next_cursor: string | null }> {
  const q = db('payouts').select('*', db.raw(`${cursorTimeSql('created_at')} AS cursor_time`)).where({ seller_user_id: caller.id });
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    if (!after) throw refusals.invalid([{ path: 'query.cursor', message: 'Invalid cursor.' }]);
    q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [after.time, after.id]);
  }
  const rows = (await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(query.limit + 1)) as Array<PayoutRow & { cursor_time: string }>;
  const page = keysetPage(rows, query.limit);
  return { data: page.rows.map(payoutJson), next_cursor: page.nextCursor };
}
