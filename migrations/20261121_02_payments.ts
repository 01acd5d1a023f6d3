import type { Knex } from 'knex';

/**
 * Payments: the platform's own record of every payment (`payments` + append-only `payment_events`), Stripe
 * webhook deduplication (`webhook_events`), and the simulated gateway's provider-side state (`sim_*`), which
 * stands in for Stripe's servers when STRIPE_SECRET_KEY is unset.
 *
 * Money is bigint minor units. The CHECKs restate the invariants the code already keeps (refunds never
 * exceed captures, captures never exceed the amount) so that no bug or manual fix can break them silently.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE payments (
      id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      business_key          text NOT NULL UNIQUE CHECK (length(business_key) BETWEEN 1 AND 255),
      provider              text NOT NULL CHECK (provider IN ('stripe', 'simulated')),
      provider_payment_id   text,
      kind                  text NOT NULL CHECK (kind IN ('setup', 'authorization', 'charge')),
      amount_cents          bigint NOT NULL CHECK (amount_cents >= 0),
      currency              text CHECK (currency ~ '^[a-z]{3}$'),
      status                text NOT NULL CHECK (status IN ('pending', 'requires_action', 'processing', 'requires_capture',
                              'succeeded', 'partially_refunded', 'refunded', 'canceled', 'failed')),
      captured_cents        bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0 AND captured_cents <= amount_cents),
      refunded_cents        bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= captured_cents),
      customer_ref          text,
      provider_customer_id  text,
      payment_method        text NOT NULL,
      provider_payment_method text,
      failure_code          text,
      decline_code          text,
      failure_message       text,
      -- What the client needs to authenticate (client secret) while the status is requires_action.
      next_action           jsonb,
      created_at            timestamptz NOT NULL DEFAULT now(),
      updated_at            timestamptz NOT NULL DEFAULT now(),
      -- A saved card moves no money; everything else is an amount in a currency.
      CHECK (kind = 'setup' OR (currency IS NOT NULL AND amount_cents > 0))
    )
  `);
  await knex.raw(
    'CREATE UNIQUE INDEX payments_provider_payment_id_key ON payments (provider, provider_payment_id) WHERE provider_payment_id IS NOT NULL',
  );
  await knex.raw('CREATE INDEX payments_status_idx ON payments (status, updated_at)');

  await knex.raw(`
    CREATE TABLE payment_events (
      id           bigserial PRIMARY KEY,
      payment_id   uuid NOT NULL REFERENCES payments (id),
      type         text NOT NULL,
      from_status  text,
      to_status    text NOT NULL,
      data         jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at   timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX payment_events_payment_idx ON payment_events (payment_id, id)');
  // The log is evidence: enforce append-only in the database, not only by convention.
  await knex.raw(`
    CREATE FUNCTION payment_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'payment_events is append-only (% refused)', TG_OP;
    END $$
  `);
  await knex.raw(`
    CREATE TRIGGER payment_events_append_only BEFORE UPDATE OR DELETE ON payment_events
    FOR EACH ROW EXECUTE FUNCTION payment_events_append_only()
  `);

  await knex.raw(`
    CREATE TABLE webhook_events (
      id            text PRIMARY KEY,
      provider      text NOT NULL DEFAULT 'stripe',
      type          text NOT NULL,
      payment_id    uuid REFERENCES payments (id),
      received_at   timestamptz NOT NULL DEFAULT now(),
      processed_at  timestamptz
    )
  `);

  // ---- Simulated gateway (provider-side state) ----
  await knex.raw(`
    CREATE TABLE sim_customers (
      id            text PRIMARY KEY,
      customer_ref  text NOT NULL UNIQUE,
      email         text,
      created_at    timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw(`
    CREATE TABLE sim_setup_intents (
      id               text PRIMARY KEY,
      customer_id      text NOT NULL REFERENCES sim_customers (id),
      payment_method   text NOT NULL,
      status           text NOT NULL CHECK (status IN ('succeeded', 'requires_action', 'failed')),
      client_secret    text NOT NULL,
      failure_code     text,
      decline_code     text,
      failure_message  text,
      created_at       timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX sim_setup_intents_customer_idx ON sim_setup_intents (customer_id, payment_method)');
  await knex.raw(`
    CREATE TABLE sim_payment_intents (
      id               text PRIMARY KEY,
      capture_method   text NOT NULL CHECK (capture_method IN ('manual', 'automatic')),
      off_session      boolean NOT NULL,
      amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
      currency         text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
      status           text NOT NULL CHECK (status IN ('requires_action', 'requires_capture', 'succeeded', 'canceled', 'failed')),
      captured_cents   bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0 AND captured_cents <= amount_cents),
      refunded_cents   bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= captured_cents),
      payment_method   text NOT NULL,
      customer_id      text REFERENCES sim_customers (id),
      client_secret    text NOT NULL,
      failure_code     text,
      decline_code     text,
      failure_message  text,
      metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw(`
    CREATE TABLE sim_refunds (
      id                 text PRIMARY KEY,
      payment_intent_id  text NOT NULL REFERENCES sim_payment_intents (id),
      amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
      status             text NOT NULL CHECK (status IN ('succeeded', 'pending', 'failed')),
      created_at         timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX sim_refunds_payment_intent_idx ON sim_refunds (payment_intent_id)');
  // Like Stripe, one key space for every mutating call: the first response is kept and replayed. The row is
  // inserted first (claiming the key; concurrent callers wait on the primary key) and its response filled in
  // by the same transaction, so a committed row always has one.
  await knex.raw(`
    CREATE TABLE sim_idempotency_keys (
      key           text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
      operation     text NOT NULL,
      request_hash  text NOT NULL,
      response      jsonb,
      created_at    timestamptz NOT NULL DEFAULT now()
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'sim_idempotency_keys',
    'sim_refunds',
    'sim_payment_intents',
    'sim_setup_intents',
    'sim_customers',
    'webhook_events',
    'payment_events',
    'payments',
  ]) {
    await knex.raw(`DROP TABLE IF EXISTS ${table}`);
  }
  await knex.raw('DROP FUNCTION IF EXISTS payment_events_append_only()');
}
