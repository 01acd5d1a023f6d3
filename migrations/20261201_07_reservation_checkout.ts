import type { Knex } from 'knex';

/**
 * Which checkout sold a reservation. Two checkouts of one cart (two tabs, two Idempotency-Keys) both find its
 * holds; the commit claims them for one checkout (`checkout_key`, set with status 'committed'), so the other
 * sees them taken instead of sold to it, and a failed checkout's restock gives back only what it sold itself.
 * Null on held and released rows, and on rows committed before this column existed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE reservations ADD COLUMN checkout_key text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE reservations DROP COLUMN IF EXISTS checkout_key');
}
