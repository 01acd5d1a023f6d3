import type { Knex } from 'knex';

/**
 * Orders with tax on top (issue 13): each item carries the store owner's rate (TAX_RATES_BPS) and its tax, rounded
 * per line half-even (src/domain/invoiceMath.ts); the order's tax is their sum and total = subtotal + tax is what
 * the checkout authorizes and captures. Orders before this have no tax (0), so their totals stay as they were.
 *
 * `orders.customer_email`: a guest's email, given at checkout, so a guest order can still get its receipt
 * (invoices to guests, migrations/20261206_01_billing_money.ts). Signed-in shoppers are invoiced by their account.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE orders ADD COLUMN tax_cents bigint NOT NULL DEFAULT 0 CHECK (tax_cents >= 0)');
  await knex.raw('ALTER TABLE orders ADD CONSTRAINT orders_total_is_subtotal_plus_tax CHECK (total_cents = subtotal_cents + tax_cents)');
  await knex.raw(`ALTER TABLE orders ADD COLUMN customer_email text CHECK (customer_email IS NULL OR length(customer_email) BETWEEN 3 AND 320)`);

  await knex.raw('ALTER TABLE order_items ADD COLUMN tax_rate_bps int NOT NULL DEFAULT 0 CHECK (tax_rate_bps BETWEEN 0 AND 10000)');
  await knex.raw('ALTER TABLE order_items ADD COLUMN tax_cents bigint NOT NULL DEFAULT 0 CHECK (tax_cents >= 0)');
  // The same per-line rule as invoice lines: round-half-even(quantity × unit × bps / 10000), in exact numerics.
  await knex.raw(`
    ALTER TABLE order_items ADD CONSTRAINT order_items_tax_half_even CHECK (
      tax_cents = div(quantity::numeric * unit_price_cents * tax_rate_bps, 10000)
        + CASE
            WHEN 2 * mod(quantity::numeric * unit_price_cents * tax_rate_bps, 10000) > 10000 THEN 1
            WHEN 2 * mod(quantity::numeric * unit_price_cents * tax_rate_bps, 10000) = 10000
                 AND mod(div(quantity::numeric * unit_price_cents * tax_rate_bps, 10000), 2) = 1 THEN 1
            ELSE 0
          END
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE order_items DROP CONSTRAINT IF EXISTS order_items_tax_half_even');
  await knex.raw('ALTER TABLE order_items DROP COLUMN IF EXISTS tax_cents');
  await knex.raw('ALTER TABLE order_items DROP COLUMN IF EXISTS tax_rate_bps');
  await knex.raw('ALTER TABLE orders DROP COLUMN IF EXISTS customer_email');
  await knex.raw('ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_total_is_subtotal_plus_tax');
  await knex.raw('ALTER TABLE orders DROP COLUMN IF EXISTS tax_cents');
}
