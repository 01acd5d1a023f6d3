import type { Knex } from 'knex';

/**
 * Invoices (issue 13, billing): issued by a seller (creator, merchant, provider) or by the platform (plans, fees)
 * to a customer, with lines, per-line tax and totals in integer minor units.
 *
 * - A draft has no number. Finalizing assigns the next number of its issuer from `invoice_number_counters` in the
 *   same transaction (the counter row locked), so numbers run without gaps or duplicates per issuer
 *   (UNIQUE (issuer_key, number)); a rolled-back finalization gives its number back.
 * - One invoice per charge: UNIQUE (issuer_key, source_kind, source_id).
 * - Arithmetic is checked here too: amount = quantity × unit, tax = round-half-even(amount × bps / 10000) per line
 *   (the same rule as src/domain/invoiceMath.ts), total = subtotal + tax, and on finalization the totals must be
 *   the sums of the lines.
 * - A finalized invoice never changes (trigger, SQLSTATE PF013): its lines, totals, number, currency, issuer and
 *   customer are frozen; its status may only go finalized → void (setting voided_at); lines of a non-draft invoice
 *   cannot be inserted, updated or deleted; a non-draft invoice cannot be deleted.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE invoice_number_counters (
      issuer_key  text PRIMARY KEY CHECK (length(issuer_key) BETWEEN 1 AND 64),
      prefix      text NOT NULL CHECK (prefix ~ '^[A-Z0-9]{1,16}$'),
      next_number bigint NOT NULL DEFAULT 1 CHECK (next_number >= 1)
    )
  `);

  await knex.raw(`
    CREATE TABLE invoices (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      issuer_kind      text NOT NULL CHECK (issuer_kind IN ('seller', 'platform')),
      issuer_user_id   uuid REFERENCES users (id),
      issuer_key       text NOT NULL,
      customer_user_id uuid NOT NULL REFERENCES users (id),
      number           text CHECK (number IS NULL OR length(number) BETWEEN 1 AND 64),
      status           text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'finalized', 'void')),
      currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      subtotal_cents   bigint NOT NULL CHECK (subtotal_cents >= 0),
      tax_cents        bigint NOT NULL CHECK (tax_cents >= 0),
      total_cents      bigint NOT NULL,
      source_kind      text NOT NULL CHECK (source_kind IN ('order', 'booking', 'pledge', 'subscription', 'fees')),
      source_id        text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 200),
      issued_at        timestamptz,
      created_at       timestamptz NOT NULL DEFAULT now(),
      voided_at        timestamptz,
      CONSTRAINT invoices_total_is_sum CHECK (total_cents = subtotal_cents + tax_cents),
      CONSTRAINT invoices_numbered_unless_draft CHECK (status = 'draft' OR number IS NOT NULL),
      CONSTRAINT invoices_issued_unless_draft CHECK ((status = 'draft') = (issued_at IS NULL)),
      CONSTRAINT invoices_voided_at_iff_void CHECK ((status = 'void') = (voided_at IS NOT NULL)),
      CONSTRAINT invoices_issuer_key CHECK (
        (issuer_kind = 'platform' AND issuer_user_id IS NULL AND issuer_key = 'platform')
        OR (issuer_kind = 'seller' AND issuer_user_id IS NOT NULL AND issuer_key = issuer_user_id::text)
      ),
      CONSTRAINT invoices_number_per_issuer UNIQUE (issuer_key, number),
      CONSTRAINT invoices_one_per_source UNIQUE (issuer_key, source_kind, source_id)
    )
  `);
  // GET /v1/me/invoices (as buyer, as seller): newest first, keyset on (created_at, id).
  await knex.raw('CREATE INDEX invoices_customer_idx ON invoices (customer_user_id, created_at DESC, id DESC)');
  await knex.raw('CREATE INDEX invoices_issuer_user_idx ON invoices (issuer_user_id, created_at DESC, id DESC) WHERE issuer_user_id IS NOT NULL');

  await knex.raw(`
    CREATE TABLE invoice_lines (
      invoice_id        uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
      position          int NOT NULL CHECK (position >= 1),
      description       text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
      quantity          int NOT NULL CHECK (quantity > 0),
      unit_amount_cents bigint NOT NULL CHECK (unit_amount_cents >= 0),
      amount_cents      bigint NOT NULL,
      tax_rate_bps      int NOT NULL CHECK (tax_rate_bps BETWEEN 0 AND 10000),
      tax_cents         bigint NOT NULL CHECK (tax_cents >= 0),
      PRIMARY KEY (invoice_id, position),
      CONSTRAINT invoice_lines_amount_is_product CHECK (amount_cents = quantity::bigint * unit_amount_cents),
      -- round-half-even(amount × bps / 10000), in exact numeric arithmetic (amount and bps are never negative)
      CONSTRAINT invoice_lines_tax_half_even CHECK (
        tax_cents = div(amount_cents::numeric * tax_rate_bps, 10000)
          + CASE
              WHEN 2 * mod(amount_cents::numeric * tax_rate_bps, 10000) > 10000 THEN 1
              WHEN 2 * mod(amount_cents::numeric * tax_rate_bps, 10000) = 10000
                   AND mod(div(amount_cents::numeric * tax_rate_bps, 10000), 2) = 1 THEN 1
              ELSE 0
            END
      )
    )
  `);

  await knex.raw(`
    CREATE FUNCTION invoices_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      line_subtotal bigint;
      line_tax bigint;
      line_count int;
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
          RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is %s and cannot be deleted', OLD.id, OLD.status);
        END IF;
        RETURN OLD;
      END IF;
      IF OLD.status <> 'draft' THEN
        IF (NEW.id, NEW.issuer_kind, NEW.issuer_user_id, NEW.issuer_key, NEW.customer_user_id, NEW.number, NEW.currency,
            NEW.subtotal_cents, NEW.tax_cents, NEW.total_cents, NEW.source_kind, NEW.source_id, NEW.issued_at, NEW.created_at)
           IS DISTINCT FROM
           (OLD.id, OLD.issuer_kind, OLD.issuer_user_id, OLD.issuer_key, OLD.customer_user_id, OLD.number, OLD.currency,
            OLD.subtotal_cents, OLD.tax_cents, OLD.total_cents, OLD.source_kind, OLD.source_id, OLD.issued_at, OLD.created_at) THEN
          RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is %s: its number, totals, currency, issuer and customer never change (issue a credit note)', OLD.id, OLD.status);
        END IF;
        IF NOT (NEW.status = OLD.status AND NEW.voided_at IS NOT DISTINCT FROM OLD.voided_at)
           AND NOT (OLD.status = 'finalized' AND NEW.status = 'void') THEN
          RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is %s: only finalized -> void is allowed', OLD.id, OLD.status);
        END IF;
        RETURN NEW;
      END IF;
      -- a draft
      IF NEW.status = 'void' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is a draft: only a finalized invoice can be voided', OLD.id);
      END IF;
      IF NEW.status = 'finalized' THEN
        SELECT count(*), COALESCE(sum(amount_cents), 0), COALESCE(sum(tax_cents), 0)
          INTO line_count, line_subtotal, line_tax
          FROM invoice_lines WHERE invoice_id = NEW.id;
        IF line_count = 0 OR line_subtotal <> NEW.subtotal_cents OR line_tax <> NEW.tax_cents THEN
          RAISE EXCEPTION USING ERRCODE = '23514', MESSAGE = format('invoice %s: totals (%s + %s) are not the sums of its %s lines (%s + %s)',
            NEW.id, NEW.subtotal_cents, NEW.tax_cents, line_count, line_subtotal, line_tax);
        END IF;
      END IF;
      RETURN NEW;
    END $$
  `);
  await knex.raw(`
    CREATE TRIGGER invoices_guard BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_guard()
  `);

  // The parent row is read FOR SHARE: a line written while another transaction finalizes the invoice either
  // waits for it (then sees it finalized and is refused) or makes it wait (then its totals check sees the line).
  await knex.raw(`
    CREATE FUNCTION invoice_lines_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      parent_status text;
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status INTO parent_status FROM invoices WHERE id = OLD.invoice_id FOR SHARE;
        -- not found: the invoice itself is being deleted (a draft: its lines go with it)
        IF parent_status IS NOT NULL AND parent_status <> 'draft' THEN
          RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is %s: its lines never change', OLD.invoice_id, parent_status);
        END IF;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT status INTO parent_status FROM invoices WHERE id = NEW.invoice_id FOR SHARE;
        IF parent_status IS NOT NULL AND parent_status <> 'draft' THEN
          RAISE EXCEPTION USING ERRCODE = 'PF013', MESSAGE = format('invoice %s is %s: no line can be added or changed', NEW.invoice_id, parent_status);
        END IF;
        RETURN NEW;
      END IF;
      RETURN OLD;
    END $$
  `);
  await knex.raw(`
    CREATE TRIGGER invoice_lines_guard BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_guard()
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS invoice_lines');
  await knex.raw('DROP TABLE IF EXISTS invoices');
  await knex.raw('DROP TABLE IF EXISTS invoice_number_counters');
  await knex.raw('DROP FUNCTION IF EXISTS invoice_lines_guard()');
  await knex.raw('DROP FUNCTION IF EXISTS invoices_guard()');
}
