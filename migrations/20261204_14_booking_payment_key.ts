import type { Knex } from 'knex';

/**
 * Which payment a booking was made with. A declined card leaves the hold usable for another card, and a payment's
 * business key can never be reused for a different card, so each card tried on a hold is an attempt of its own:
 * `booking:<id>:authorize` (or `:setup`) first, then `...:2`, `...:3`. `payment_attempt` is the attempt in use;
 * `payment_key` is set by the confirmation to the key of the authorization or saved card the booking stands on,
 * the one its lifecycle captures, voids or charges from.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE bookings
      ADD COLUMN payment_attempt integer NOT NULL DEFAULT 1 CHECK (payment_attempt BETWEEN 1 AND 1000),
      ADD COLUMN payment_key     text
  `);
  // A customer's live holds are counted at every new hold (at most a few may be live at once).
  await knex.raw(`CREATE INDEX bookings_customer_held_idx ON bookings (customer_id, hold_expires_at) WHERE status = 'held'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS bookings_customer_held_idx');
  await knex.raw('ALTER TABLE bookings DROP COLUMN IF EXISTS payment_attempt, DROP COLUMN IF EXISTS payment_key');
}
