import { randomUUID } from 'node:crypto';
import type { TestContext } from '../helpers/context';

/** Commerce fixtures made through the API, as a merchant would: an active product with one variant. */
export async function createVariant(ctx: TestContext, owner: { auth: string }, storeId: string, stock: number, price = 2_500): Promise<string> {
  const res = await ctx.http
    .post(`/v1/stores/${storeId}/products`)
    .set('Authorization', owner.auth)
    .send({ name: `Tee ${randomUUID().slice(0, 6)}`, base_price_cents: price, inventory_count: stock, status: 'active' });
  expect(res.status).toBe(201);
  return res.body.variants[0].id;
}

export function inventoryOf(ctx: TestContext, variantId: string): Promise<{ total_stock: number; reserved: number; sold: number }> {
  return ctx.deps.db('inventory').where({ variant_id: variantId }).first('total_stock', 'reserved', 'sold');
}

/** A store owned by `owner`, made through POST /v1/stores. */
export async function createStore(ctx: TestContext, owner: { auth: string }, name: string): Promise<string> {
  const res = await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name, slug: `s-${randomUUID().slice(0, 8)}`, currency: 'EUR' });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** An order placed as a shopper would: a cart with these lines, then checkout with a card that is accepted. */
export async function placeOrder(
  ctx: TestContext,
  shopper: { auth: string },
  storeId: string,
  lines: Array<[string, number]>,
): Promise<{ id: string; status: string; total_cents: number }> {
  const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
  expect(cart.status).toBe(201);
  for (const [v, n] of lines) expect((await ctx.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: v, quantity: n })).status).toBe(200);
  const res = await ctx.http
    .post('/v1/checkout')
    .set('Authorization', shopper.auth)
    .set('Idempotency-Key', randomUUID())
    .send({ cart_id: cart.body.id, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
  expect(res.status).toBe(201);
  return res.body;
}
