import type { Knex } from 'knex';
import type { AppDeps } from '../../src/api/deps';

/**
 * Reads of what a pledge leaves behind, for the pledge tests. Users, campaigns and tiers come from the
 * shared database fixtures in ../helpers/fixtures.
 */

/** Slots taken on a reward tier. */
export async function claimed(deps: AppDeps, tierId: string): Promise<number> {
  const row = (await deps.db('reward_tiers').where({ id: tierId }).first('claimed')) as { claimed: number };
  return row.claimed;
}

/** Our payment record for a business key (not the gateway's). */
export async function paymentRow(deps: AppDeps, businessKey: string): Promise<{ status: string; kind: string; amount_cents: number; provider_payment_id: string | null } | undefined> {
  return deps.db('payments').where({ business_key: businessKey }).first('status', 'kind', 'amount_cents', 'provider_payment_id');
}

export async function countRows(deps: AppDeps, table: string, where: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number> {
  const [row] = (await where(deps.db(table)).count('* as count')) as Array<{ count: number | string }>;
  return Number(row!.count);
}
