import type { Knex } from 'knex';

/**
 * Merchant plan subscriptions (issue 13), beside `store_subscriptions` (20261206_01_billing_money.ts):
 *
 * - `store_subscriptions` gains what proration needs: what was paid (before tax) for the current plan's part of
 *   the current period and since when, the credit carried to the next invoices, and an optional fixed period
 *   length (SUBSCRIPTION_PERIOD, so tests run periods of seconds; null: calendar periods on the anchor).
 * - `subscription_periods`: one row per billed period (store, period start): its invoice, the plan's list price,
 *   the carried credit applied to it and what is due (the invoice total); paid, or dunning, or unpaid.
 * - `subscription_changes`: one row per plan change (keyed per period and change number): the proration, with
 *   a CHECK that its credit never exceeds what was paid for the part it gives back.
 * - `subscription_charges`: every charge attempt, one per payment business key
 *   (`subscription:<store>:<period start>:<attempt>`, or the change's key), so a period is charged once per attempt.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE store_subscriptions
      ADD COLUMN paid_cents bigint NOT NULL DEFAULT 0 CHECK (paid_cents >= 0),
      ADD COLUMN paid_from timestamptz,
      ADD COLUMN credit_balance_cents bigint NOT NULL DEFAULT 0 CHECK (credit_balance_cents >= 0),
      ADD COLUMN fixed_period_seconds int CHECK (fixed_period_seconds IS NULL OR fixed_period_seconds > 0),
      ADD COLUMN currency char(3) CHECK (currency IS NULL OR currency ~ '^[A-Z]{3}$'),
      ADD CONSTRAINT store_subscriptions_paid_within_period CHECK (paid_from IS NULL OR (paid_from >= current_period_start AND paid_from <= current_period_end))
  `);

  await knex.raw(`
    CREATE TABLE subscription_periods (
      store_id             uuid NOT NULL REFERENCES stores (id),
      period_start         timestamptz NOT NULL,
      period_end           timestamptz NOT NULL,
      plan_id              text NOT NULL,
      currency             char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      list_price_cents     bigint NOT NULL CHECK (list_price_cents >= 0),
      credit_applied_cents bigint NOT NULL DEFAULT 0 CHECK (credit_applied_cents >= 0),
      invoice_id           uuid REFERENCES invoices (id),
      -- the invoice's total: (list price − credit applied) + tax; what the period's charge takes
      amount_due_cents     bigint NOT NULL CHECK (amount_due_cents >= 0),
      status               text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'unpaid', 'void')),
      paid_at              timestamptz,
      created_at           timestamptz NOT NULL DEFAULT now(),
      updated_at           timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (store_id, period_start),
      CHECK (period_end > period_start),
      CHECK (credit_applied_cents <= list_price_cents),
      CHECK ((status = 'paid') = (paid_at IS NOT NULL))
    )
  `);

  await knex.raw(`
    CREATE TABLE subscription_changes (
      id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      store_id             uuid NOT NULL REFERENCES stores (id),
      period_start         timestamptz NOT NULL,
      -- '<store>:<period start ISO>:change:<n>': one row per change, however often its step runs
      change_key           text NOT NULL UNIQUE CHECK (length(change_key) BETWEEN 1 AND 200),
      from_plan_id         text NOT NULL,
      to_plan_id           text NOT NULL CHECK (to_plan_id <> from_plan_id),
      at                   timestamptz NOT NULL,
      paid_before_cents    bigint NOT NULL CHECK (paid_before_cents >= 0),
      credit_cents         bigint NOT NULL CHECK (credit_cents >= 0),
      charge_cents         bigint NOT NULL CHECK (charge_cents >= 0),
      -- charged now (on the change's invoice, before tax): the positive difference; carried: the negative one
      net_charge_cents     bigint NOT NULL CHECK (net_charge_cents >= 0),
      credit_carried_cents bigint NOT NULL CHECK (credit_carried_cents >= 0),
      invoice_id           uuid REFERENCES invoices (id),
      status               text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'declined')),
      created_at           timestamptz NOT NULL DEFAULT now(),
      updated_at           timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT subscription_changes_credit_within_paid CHECK (credit_cents <= paid_before_cents),
      CONSTRAINT subscription_changes_netted CHECK (net_charge_cents - credit_carried_cents = charge_cents - credit_cents),
      CONSTRAINT subscription_changes_one_side CHECK (net_charge_cents = 0 OR credit_carried_cents = 0),
      CONSTRAINT subscription_changes_invoiced CHECK ((invoice_id IS NULL) = (net_charge_cents = 0))
    )
  `);
  await knex.raw('CREATE INDEX subscription_changes_period_idx ON subscription_changes (store_id, period_start)');

  await knex.raw(`
    CREATE TABLE subscription_charges (
      payment_key   text PRIMARY KEY CHECK (length(payment_key) BETWEEN 1 AND 255),
      store_id      uuid NOT NULL REFERENCES stores (id),
      period_start  timestamptz NOT NULL,
      kind          text NOT NULL CHECK (kind IN ('period', 'change')),
      change_id     uuid REFERENCES subscription_changes (id),
      attempt       int NOT NULL CHECK (attempt >= 1),
      invoice_id    uuid NOT NULL REFERENCES invoices (id),
      amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
      status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'declined')),
      decline_code  text,
      hard_decline  boolean NOT NULL DEFAULT false,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      CHECK ((kind = 'change') = (change_id IS NOT NULL))
    )
  `);
  await knex.raw(`CREATE UNIQUE INDEX subscription_charges_period_attempt ON subscription_charges (store_id, period_start, attempt) WHERE kind = 'period'`);
  await knex.raw(`CREATE UNIQUE INDEX subscription_charges_one_paid_per_invoice ON subscription_charges (invoice_id) WHERE status = 'paid'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS subscription_charges');
  await knex.raw('DROP TABLE IF EXISTS subscription_changes');
  await knex.raw('DROP TABLE IF EXISTS subscription_periods');
  await knex.raw(`
    ALTER TABLE store_subscriptions
      DROP CONSTRAINT IF EXISTS store_subscriptions_paid_within_period,
      DROP COLUMN IF EXISTS currency,
      DROP COLUMN IF EXISTS fixed_period_seconds,
      DROP COLUMN IF EXISTS credit_balance_cents,
      DROP COLUMN IF EXISTS paid_from,
      DROP COLUMN IF EXISTS paid_cents
  `);
}
