import type { Knex } from 'knex';

/**
 * Payouts (issue 13):
 * - `sim_transfers`: the simulated gateway's transfers to connected accounts (its own state, like the other sim_
 *   tables). A connected account may be marked to refuse transfers (`transfer_failure_code`), the way Stripe's test
 *   cards decline, so failed payouts can be produced on demand.
 * - `seller_payout_accounts`: the connected account a creator or merchant is paid out to. A provider's is the one
 *   on its provider row (providers.payout_account_id); this table is for the sellers who have no provider row.
 * - `payouts.run_key`: the payout run that made a payout (its business key names it too), for operators.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE sim_connected_accounts ADD COLUMN transfer_failure_code text CHECK (transfer_failure_code IS NULL OR length(transfer_failure_code) BETWEEN 1 AND 64)`);
  await knex.raw(`
    CREATE TABLE sim_transfers (
      id            text PRIMARY KEY,
      destination   text NOT NULL REFERENCES sim_connected_accounts (id),
      amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
      currency      text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
      status        text NOT NULL CHECK (status IN ('paid', 'failed')),
      failure_code  text,
      business_key  text NOT NULL UNIQUE,
      metadata      jsonb NOT NULL DEFAULT '{}',
      created_at    timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw(`
    CREATE TABLE seller_payout_accounts (
      user_id     uuid PRIMARY KEY REFERENCES users (id),
      account_id  text NOT NULL UNIQUE,
      status      text NOT NULL CHECK (status IN ('pending', 'ready')),
      country     char(2) NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
      created_at  timestamptz NOT NULL DEFAULT now(),
      updated_at  timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw(`ALTER TABLE payouts ADD COLUMN run_key text CHECK (run_key IS NULL OR length(run_key) BETWEEN 1 AND 100)`);
  // the payout run pages sellers by id over what is available
  await knex.raw('CREATE INDEX balance_entries_seller_available_idx ON balance_entries (seller_user_id, available_at) INCLUDE (currency, amount_cents)');
  await knex.raw(`CREATE INDEX payouts_scheduled_idx ON payouts (seller_user_id) WHERE status = 'scheduled'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS payouts_scheduled_idx');
  await knex.raw('DROP INDEX IF EXISTS balance_entries_seller_available_idx');
  await knex.raw('ALTER TABLE payouts DROP COLUMN IF EXISTS run_key');
  await knex.raw('DROP TABLE IF EXISTS seller_payout_accounts');
  await knex.raw('DROP TABLE IF EXISTS sim_transfers');
  await knex.raw('ALTER TABLE sim_connected_accounts DROP COLUMN IF EXISTS transfer_failure_code');
}
