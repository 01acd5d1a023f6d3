import type { Knex } from 'knex';

/**
 * Refunds and credit notes (issue 13, src/billing/refunds.ts):
 * - `order_items.restocked_quantity`: units of the line put back on sale by refunds (and by the cancellation, which
 *   restocks the rest); never more than were sold in the line, enforced here.
 * - `balance_entries` gains `refund_reversal` (+): a refund the provider refused gives its amount back to the
 *   seller's balance (entries are append-only, so the refund entry stays and this one cancels it).
 * - credit-note numbers come from the invoice counters under their own key, with the prefix `<issuer prefix>-CN`.
 * - `ledger_transactions.credit_note_id`: the ledger's refund line names the credit note it paid out.
 * - `credit_notes.invoice_id` may be null: a charge without a receipt (a guest who left no email, receipts off) is
 *   still refundable; its credit notes are numbered all the same and carry no tax part.
 * - `credit_notes.request_hash`: what was asked under the refund's key (amount, reason, items), so the same key with
 *   another request is refused even after the API's idempotency record is gone.
 */
/** balance_entries' kind, sign and reference checks, with or without `refund_reversal` (+, a credit note's). */
async function balanceEntryKinds(knex: Knex, withRefundReversal: boolean): Promise<void> {
  const reversal = withRefundReversal ? `, 'refund_reversal'` : '';
  for (const c of ['balance_entries_kind_check', 'balance_entries_sign', 'balance_entries_refs']) await knex.raw(`ALTER TABLE balance_entries DROP CONSTRAINT IF EXISTS ${c}`);
  await knex.raw(`ALTER TABLE balance_entries ADD CONSTRAINT balance_entries_kind_check CHECK (kind IN ('sale', 'platform_fee', 'refund'${reversal}, 'payout', 'payout_reversal'))`);
  await knex.raw(`
    ALTER TABLE balance_entries ADD CONSTRAINT balance_entries_sign CHECK (
      (kind IN ('sale', 'payout_reversal'${reversal}) AND amount_cents > 0)
      OR (kind IN ('platform_fee', 'refund', 'payout') AND amount_cents < 0)
    )
  `);
  await knex.raw(`
    ALTER TABLE balance_entries ADD CONSTRAINT balance_entries_refs CHECK (
      (kind IN ('sale', 'platform_fee') AND charge_id IS NOT NULL)
      OR (kind IN ('refund'${reversal}) AND charge_id IS NOT NULL AND credit_note_id IS NOT NULL)
      OR (kind IN ('payout', 'payout_reversal') AND payout_id IS NOT NULL)
    )
  `);
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE order_items ADD COLUMN restocked_quantity integer NOT NULL DEFAULT 0');
  await knex.raw('ALTER TABLE order_items ADD CONSTRAINT order_items_restock_within_sold CHECK (restocked_quantity BETWEEN 0 AND quantity)');

  await balanceEntryKinds(knex, true);
  // At most one reversal per credit note (a failed refund is given back once).
  await knex.raw(`CREATE UNIQUE INDEX balance_entries_one_refund_reversal ON balance_entries (credit_note_id) WHERE kind = 'refund_reversal'`);

  await knex.raw('ALTER TABLE invoice_number_counters DROP CONSTRAINT IF EXISTS invoice_number_counters_prefix_check');
  await knex.raw(`ALTER TABLE invoice_number_counters ADD CONSTRAINT invoice_number_counters_prefix_check CHECK (prefix ~ '^[A-Z0-9]{1,16}(-CN){0,1}$')`);

  await knex.raw('ALTER TABLE ledger_transactions ADD COLUMN credit_note_id uuid REFERENCES credit_notes (id)');
  await knex.raw('CREATE UNIQUE INDEX ledger_credit_note_idx ON ledger_transactions (credit_note_id) WHERE credit_note_id IS NOT NULL');
  await knex.raw('ALTER TABLE credit_notes ADD COLUMN request_hash text');
  await knex.raw('ALTER TABLE credit_notes ALTER COLUMN invoice_id DROP NOT NULL');
  await knex.raw(`CREATE INDEX credit_notes_pending_idx ON credit_notes (created_at) WHERE status = 'pending'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS credit_notes_pending_idx');
  await knex.raw('ALTER TABLE credit_notes DROP COLUMN IF EXISTS request_hash');
  await knex.raw('ALTER TABLE credit_notes ALTER COLUMN invoice_id SET NOT NULL');
  await knex.raw('DROP INDEX IF EXISTS ledger_credit_note_idx');
  await knex.raw('ALTER TABLE ledger_transactions DROP COLUMN IF EXISTS credit_note_id');
  await knex.raw(`DELETE FROM invoice_number_counters WHERE prefix LIKE '%-CN'`);
  await knex.raw('ALTER TABLE invoice_number_counters DROP CONSTRAINT IF EXISTS invoice_number_counters_prefix_check');
  await knex.raw(`ALTER TABLE invoice_number_counters ADD CONSTRAINT invoice_number_counters_prefix_check CHECK (prefix ~ '^[A-Z0-9]{1,16}$')`);
  await knex.raw('DROP INDEX IF EXISTS balance_entries_one_refund_reversal');
  // balance_entries is append-only (its trigger refuses DELETE): a database with reversals cannot go down.
  await balanceEntryKinds(knex, false);
  await knex.raw('ALTER TABLE order_items DROP CONSTRAINT IF EXISTS order_items_restock_within_sold');
  await knex.raw('ALTER TABLE order_items DROP COLUMN IF EXISTS restocked_quantity');
}
