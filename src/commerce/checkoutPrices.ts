import type { Db } from '../infra/db';
import type { CheckoutLine, PriceCheckResult } from './contract';

/**
 * The price each line would be sold at now: the catalog price (base + modifier) of an active product, or the
 * drop's price for a cart a drop opened. A line priced differently in the cart is reported, never charged.
 */
export async function checkCheckoutPrices(db: Db, input: { storeId: string; dropId?: string | null; items: CheckoutLine[] }): Promise<PriceCheckResult> {
  const current = new Map<string, number>();
  if (input.dropId) {
    const drop = (await db('drops').where({ id: input.dropId, store_id: input.storeId }).first('variant_id', 'price_cents')) as
      | { variant_id: string; price_cents: string | number }
      | undefined;
    if (drop) current.set(drop.variant_id, Number(drop.price_cents));
  } else {
    const rows = (await db('variants as v')
      .join('products as p', function () {
        this.on('p.id', '=', 'v.product_id').andOn('p.store_id', '=', 'v.store_id');
      })
      .where({ 'v.store_id': input.storeId, 'p.status': 'active' })
      .whereIn('v.id', input.items.map((i) => i.variant_id))
      .select('v.id', db.raw('p.base_price_cents + v.price_modifier_cents AS price_cents'))) as Array<{ id: string; price_cents: string | number }>;
    for (const r of rows) current.set(r.id, Number(r.price_cents));
  }
  return {
    changed: input.items
      .filter((i) => current.get(i.variant_id) !== i.unit_price_cents)
      .map((i) => ({ variant_id: i.variant_id, cart_unit_price_cents: i.unit_price_cents, current_unit_price_cents: current.get(i.variant_id) ?? null })),
  };
}
