import type { Knex } from 'knex';

/**
 * The simulated gateway's connected accounts (a provider's payout details, Stripe Connect Express in the Stripe
 * adapter). Like its other sim_ tables, this is the stand-in provider's own state, not the platform's: the
 * platform keeps the account id and its readiness on the provider row (providers.payout_account_id/payout_status).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE sim_connected_accounts (
      id          text PRIMARY KEY,
      owner_ref   text NOT NULL,
      email       text,
      country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
      status      text NOT NULL CHECK (status IN ('pending', 'ready')),
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS sim_connected_accounts');
}
