import type { Knex } from 'knex';

/**
 * A charge with nobody to issue a receipt to (a guest order without an email) is recorded with its receipt waived:
 * its fee still goes on the seller's fee invoice, and the billing reconciliation neither asks for its receipt nor
 * leaves its fee out of the fee invoices' total. A waived receipt and a receipt never go together.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE seller_charges ADD COLUMN receipt_waived boolean NOT NULL DEFAULT false');
  await knex.raw('ALTER TABLE seller_charges ADD CONSTRAINT seller_charges_waived_has_no_receipt CHECK (NOT receipt_waived OR invoice_id IS NULL)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE seller_charges DROP CONSTRAINT IF EXISTS seller_charges_waived_has_no_receipt');
  await knex.raw('ALTER TABLE seller_charges DROP COLUMN IF EXISTS receipt_waived');
}
