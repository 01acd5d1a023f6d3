import type { Knex } from 'knex';

/**
 * `orders.cancelling_since`: a cancellation is under way (its refund is being made with the payment provider,
 * outside any transaction). While it is set the order cannot move on (shipped, ...), so a refund never goes out
 * for an order that ships meanwhile; a retried cancel carries on where a crashed one stopped.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE orders ADD COLUMN cancelling_since timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE orders DROP COLUMN IF EXISTS cancelling_since');
}
