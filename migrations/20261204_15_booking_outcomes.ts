import type { Knex } from 'knex';

/**
 * What a booking's outcome still owes the payment provider. The outcome (cancelled, completed, no_show) and its
 * amounts are decided in one conditional UPDATE; the provider call happens after it, outside any transaction.
 * `money_settled_at` stays NULL until that call is done and its ledger line written, so a crashed request is
 * finished by a retry or by the booking's workflow (which settles every ended row it finds unsettled).
 * `payment_failed_at`: when the off-session authorization of a far booking failed (the grace before the platform
 * cancels it counts from here). The platform itself may now cancel (`cancelled_by = 'system'`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE bookings
      ADD COLUMN money_settled_at  timestamptz,
      ADD COLUMN money_error       text,
      ADD COLUMN payment_failed_at timestamptz
  `);
  await knex.raw('ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_cancelled_by_check');
  await knex.raw(`ALTER TABLE bookings ADD CONSTRAINT bookings_cancelled_by_check CHECK (cancelled_by IN ('customer', 'provider', 'operator', 'system'))`);
  // The workflow's sweep and operators' reports: ended bookings whose money is not done yet.
  await knex.raw(`CREATE INDEX bookings_money_unsettled_idx ON bookings (ended_at) WHERE money_settled_at IS NULL AND status IN ('completed', 'cancelled', 'no_show')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS bookings_money_unsettled_idx');
  await knex.raw(`UPDATE bookings SET cancelled_by = 'operator' WHERE cancelled_by = 'system'`);
  await knex.raw('ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_cancelled_by_check');
  await knex.raw(`ALTER TABLE bookings ADD CONSTRAINT bookings_cancelled_by_check CHECK (cancelled_by IN ('customer', 'provider', 'operator'))`);
  await knex.raw('ALTER TABLE bookings DROP COLUMN IF EXISTS money_settled_at, DROP COLUMN IF EXISTS money_error, DROP COLUMN IF EXISTS payment_failed_at');
}
