import type { Knex } from 'knex';

/**
 * Billing money (issue 13): what a charge owes whom, and where the seller's share goes.
 *
 * - `seller_charges`: one row per successful charge to a seller's buyer (a pledge collected, an order captured, a
 *   booking's kept money): captured = seller share + platform fee + refunds, the fee fixed at the charge, refunds
 *   counted here and refused by Postgres beyond what was captured (`refund_exceeds_remaining`).
 * - `credit_notes`: one per refund, against the charge's receipt invoice; its amount is added to
 *   seller_charges.refunded_cents in the same transaction, so the CHECK there is the final gate for refund races.
 * - `payouts`: money moved from a seller's available balance to their payout account, one row per payout.
 * - `balance_entries`: the seller's balance as signed entries (sale +, platform fee −, refund −, payout −, payout
 *   reversal +); pending until `available_at`, available after. Append-only except `available_at`, which may move
 *   (an order delivered, a booking completed, a campaign settled fixes it). One entry per business key.
 * - `usage_events`: a store's GMV events (one per order, in the order's own transaction) that transaction fees are
 *   computed from; keyed by order so nothing is counted twice.
 * - `store_subscriptions`: a store's merchant plan (workflow `subscription:<store>` owns its periods).
 * - invoices may be issued to a guest (an order without an account): customer_email instead of a user.
 * - the ledger gains order lines, platform fees and payouts.
 */
export async function up(knex: Knex): Promise<void> {
  // ---- invoices to guests
  await knex.raw('ALTER TABLE invoices ALTER COLUMN customer_user_id DROP NOT NULL');
  await knex.raw(`ALTER TABLE invoices ADD COLUMN customer_email text CHECK (customer_email IS NULL OR length(customer_email) BETWEEN 3 AND 320)`);
  await knex.raw(`ALTER TABLE invoices ADD COLUMN customer_name text CHECK (customer_name IS NULL OR length(customer_name) BETWEEN 1 AND 200)`);
  await knex.raw('ALTER TABLE invoices ADD CONSTRAINT invoices_has_customer CHECK (customer_user_id IS NOT NULL OR customer_email IS NOT NULL)');
  await knex.raw(`
    CREATE FUNCTION invoices_guard_guest() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.status <> 'draft' AND (NEW.customer_email, NEW.customer_name) IS DISTINCT FROM (OLD.customer_email, OLD.customer_name) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is %s: its customer never changes', OLD.id, OLD.status);
      END IF;
      RETURN NEW;
    END $$
  `);
  await knex.raw('CREATE TRIGGER invoices_guard_guest BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION invoices_guard_guest()');
  // credit notes reference invoices; an invoice may also carry the platform's fee invoice lines per charge
  await knex.raw('CREATE INDEX invoices_source_idx ON invoices (source_kind, source_id)');

  // ---- charges
  await knex.raw(`
    CREATE TABLE seller_charges (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      source_kind      text NOT NULL CHECK (source_kind IN ('pledge', 'order', 'booking')),
      source_id        uuid NOT NULL,
      seller_user_id   uuid NOT NULL REFERENCES users (id),
      customer_user_id uuid REFERENCES users (id),
      currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      captured_cents   bigint NOT NULL CHECK (captured_cents > 0),
      fee_cents        bigint NOT NULL CHECK (fee_cents >= 0),
      refunded_cents   bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
      -- the payments row the money was taken by (refunds go back through it)
      payment_key      text NOT NULL REFERENCES payments (business_key),
      -- the receipt (issued by the seller to the buyer)
      invoice_id       uuid REFERENCES invoices (id),
      -- pending until then; 'infinity' while it depends on an outcome still to come (delivery, completion)
      available_at     timestamptz NOT NULL DEFAULT 'infinity',
      created_at       timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT seller_charges_fee_within_captured CHECK (fee_cents <= captured_cents),
      CONSTRAINT seller_charges_refund_within_captured CHECK (refunded_cents <= captured_cents),
      CONSTRAINT seller_charges_one_per_source UNIQUE (source_kind, source_id)
    )
  `);
  await knex.raw('CREATE INDEX seller_charges_seller_idx ON seller_charges (seller_user_id, created_at DESC, id DESC)');

  await knex.raw(`
    CREATE TABLE credit_notes (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      charge_id        uuid NOT NULL REFERENCES seller_charges (id),
      invoice_id       uuid NOT NULL REFERENCES invoices (id),
      issuer_key       text NOT NULL,
      number           text NOT NULL CHECK (length(number) BETWEEN 1 AND 64),
      currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
      tax_cents        bigint NOT NULL CHECK (tax_cents >= 0),
      reason           text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
      -- the refund's business key at the payment provider: one credit note per refund request
      refund_key       text NOT NULL UNIQUE CHECK (length(refund_key) BETWEEN 1 AND 255),
      status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
      provider_refund_id text,
      failure_code     text,
      created_by       uuid REFERENCES users (id),
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT credit_notes_tax_within_amount CHECK (tax_cents <= amount_cents),
      CONSTRAINT credit_notes_number_per_issuer UNIQUE (issuer_key, number)
    )
  `);
  await knex.raw('CREATE INDEX credit_notes_invoice_idx ON credit_notes (invoice_id, created_at)');
  await knex.raw('CREATE INDEX credit_notes_charge_idx ON credit_notes (charge_id)');

  // ---- payouts and the balance
  await knex.raw(`
    CREATE TABLE payouts (
      id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      seller_user_id         uuid NOT NULL REFERENCES users (id),
      currency               char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      amount_cents           bigint NOT NULL CHECK (amount_cents > 0),
      status                 text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'paid', 'failed')),
      -- one payout per business key (e.g. payouts:<seller>:<currency>:<run>): a retried run pays once
      business_key           text NOT NULL UNIQUE CHECK (length(business_key) BETWEEN 1 AND 255),
      destination_account_id text,
      transfer_id            text,
      attempts               int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      failure_code           text,
      failure_message        text,
      arrival_at             timestamptz,
      created_at             timestamptz NOT NULL DEFAULT now(),
      updated_at             timestamptz NOT NULL DEFAULT now()
    )
  `);
  await knex.raw('CREATE INDEX payouts_seller_idx ON payouts (seller_user_id, created_at DESC, id DESC)');

  await knex.raw(`
    CREATE TABLE balance_entries (
      id              bigserial PRIMARY KEY,
      seller_user_id  uuid NOT NULL REFERENCES users (id),
      currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      kind            text NOT NULL CHECK (kind IN ('sale', 'platform_fee', 'refund', 'payout', 'payout_reversal')),
      amount_cents    bigint NOT NULL,
      charge_id       uuid REFERENCES seller_charges (id),
      credit_note_id  uuid REFERENCES credit_notes (id),
      payout_id       uuid REFERENCES payouts (id),
      available_at    timestamptz NOT NULL,
      business_key    text NOT NULL UNIQUE CHECK (length(business_key) BETWEEN 1 AND 255),
      created_at      timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT balance_entries_sign CHECK (
        (kind IN ('sale', 'payout_reversal') AND amount_cents > 0)
        OR (kind IN ('platform_fee', 'refund', 'payout') AND amount_cents < 0)
      ),
      CONSTRAINT balance_entries_refs CHECK (
        (kind IN ('sale', 'platform_fee') AND charge_id IS NOT NULL)
        OR (kind = 'refund' AND charge_id IS NOT NULL AND credit_note_id IS NOT NULL)
        OR (kind IN ('payout', 'payout_reversal') AND payout_id IS NOT NULL)
      )
    )
  `);
  await knex.raw('CREATE INDEX balance_entries_seller_idx ON balance_entries (seller_user_id, currency, available_at)');
  await knex.raw('CREATE INDEX balance_entries_charge_idx ON balance_entries (charge_id) WHERE charge_id IS NOT NULL');
  await knex.raw('CREATE INDEX balance_entries_payout_idx ON balance_entries (payout_id) WHERE payout_id IS NOT NULL');
  await knex.raw(`
    CREATE FUNCTION balance_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF014', MESSAGE = 'balance_entries is append-only (DELETE refused)';
      END IF;
      IF (NEW.id, NEW.seller_user_id, NEW.currency, NEW.kind, NEW.amount_cents, NEW.charge_id, NEW.credit_note_id, NEW.payout_id, NEW.business_key, NEW.created_at)
         IS DISTINCT FROM
         (OLD.id, OLD.seller_user_id, OLD.currency, OLD.kind, OLD.amount_cents, OLD.charge_id, OLD.credit_note_id, OLD.payout_id, OLD.business_key, OLD.created_at) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF014', MESSAGE = format('balance entry %s: only available_at may change', OLD.id);
      END IF;
      RETURN NEW;
    END $$
  `);
  await knex.raw(`
    CREATE TRIGGER balance_entries_append_only BEFORE UPDATE OR DELETE ON balance_entries
    FOR EACH ROW EXECUTE FUNCTION balance_entries_append_only()
  `);

  // ---- usage (GMV per order, transaction fees computed from it)
  await knex.raw(`
    CREATE TABLE usage_events (
      id             bigserial PRIMARY KEY,
      store_id       uuid NOT NULL REFERENCES stores (id),
      kind           text NOT NULL CHECK (kind IN ('gmv')),
      -- the order id: one event per order, however often the step that records it runs
      source_id      uuid NOT NULL,
      currency       char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      amount_cents   bigint NOT NULL CHECK (amount_cents >= 0),
      plan_id        text,
      fee_bps        int NOT NULL CHECK (fee_bps BETWEEN 0 AND 10000),
      fee_fixed_cents bigint NOT NULL DEFAULT 0 CHECK (fee_fixed_cents >= 0),
      fee_cents      bigint NOT NULL CHECK (fee_cents >= 0),
      occurred_at    timestamptz NOT NULL DEFAULT now(),
      -- the fee invoice that counted it (null until one does)
      invoice_id     uuid REFERENCES invoices (id),
      CONSTRAINT usage_events_once UNIQUE (store_id, kind, source_id)
    )
  `);
  await knex.raw('CREATE INDEX usage_events_uncounted_idx ON usage_events (store_id, occurred_at) WHERE invoice_id IS NULL');

  // ---- merchant plans
  await knex.raw(`
    CREATE TABLE store_subscriptions (
      store_id             uuid PRIMARY KEY REFERENCES stores (id),
      plan_id              text NOT NULL CHECK (length(plan_id) BETWEEN 1 AND 64),
      status               text NOT NULL CHECK (status IN ('incomplete', 'active', 'past_due', 'unpaid', 'canceled')),
      -- the saved card periods are charged to (a payments setup row's business key)
      payment_method       text,
      customer_ref         text,
      anchor_at            timestamptz NOT NULL,
      time_zone            text NOT NULL DEFAULT 'UTC',
      current_period_start timestamptz NOT NULL,
      current_period_end   timestamptz NOT NULL,
      cancel_at_period_end boolean NOT NULL DEFAULT false,
      canceled_at          timestamptz,
      created_at           timestamptz NOT NULL DEFAULT now(),
      updated_at           timestamptz NOT NULL DEFAULT now(),
      CHECK (current_period_end > current_period_start)
    )
  `);

  // ---- the ledger: order money, platform fees, payouts
  await knex.raw('ALTER TABLE ledger_transactions ADD COLUMN order_id uuid REFERENCES orders (id)');
  await knex.raw('ALTER TABLE ledger_transactions ADD COLUMN seller_charge_id uuid REFERENCES seller_charges (id)');
  await knex.raw('ALTER TABLE ledger_transactions ADD COLUMN payout_id uuid REFERENCES payouts (id)');
  await knex.raw('CREATE INDEX ledger_order_idx ON ledger_transactions (order_id) WHERE order_id IS NOT NULL');
  await knex.raw('CREATE INDEX ledger_seller_charge_idx ON ledger_transactions (seller_charge_id) WHERE seller_charge_id IS NOT NULL');
  await knex.raw('ALTER TABLE ledger_transactions DROP CONSTRAINT IF EXISTS ledger_transactions_kind_check');
  await knex.raw(
    `ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
       CHECK (kind IN ('authorization', 'capture', 'charge', 'void', 'refund', 'provider_release', 'platform_fee', 'payout'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM ledger_transactions WHERE kind IN ('platform_fee', 'payout') OR order_id IS NOT NULL`);
  await knex.raw('ALTER TABLE ledger_transactions DROP CONSTRAINT IF EXISTS ledger_transactions_kind_check');
  await knex.raw(
    `ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
       CHECK (kind IN ('authorization', 'capture', 'charge', 'void', 'refund', 'provider_release'))`,
  );
  await knex.raw('ALTER TABLE ledger_transactions DROP COLUMN IF EXISTS payout_id');
  await knex.raw('ALTER TABLE ledger_transactions DROP COLUMN IF EXISTS seller_charge_id');
  await knex.raw('ALTER TABLE ledger_transactions DROP COLUMN IF EXISTS order_id');
  for (const t of ['store_subscriptions', 'usage_events', 'balance_entries', 'payouts', 'credit_notes', 'seller_charges']) {
    await knex.raw(`DROP TABLE IF EXISTS ${t}`);
  }
  await knex.raw('DROP FUNCTION IF EXISTS balance_entries_append_only()');
  await knex.raw('DROP INDEX IF EXISTS invoices_source_idx');
  await knex.raw('DROP TRIGGER IF EXISTS invoices_guard_guest ON invoices');
  await knex.raw('DROP FUNCTION IF EXISTS invoices_guard_guest()');
  await knex.raw('ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_has_customer');
  await knex.raw('ALTER TABLE invoices DROP COLUMN IF EXISTS customer_name');
  await knex.raw('ALTER TABLE invoices DROP COLUMN IF EXISTS customer_email');
  await knex.raw('DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM invoices WHERE customer_user_id IS NULL)');
  await knex.raw('ALTER TABLE invoices ALTER COLUMN customer_user_id SET NOT NULL');
}
