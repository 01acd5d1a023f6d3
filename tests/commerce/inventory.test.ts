import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';

/** PUT /v1/stores/{store_id}/inventory/{variant_id} and the oversell gate in the schema itself. */
describe('inventory', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;

  async function variant(stock: number): Promise<string> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Tee ${randomUUID().slice(0, 6)}`, description: '', base_price_cents: 2_500, inventory_count: stock });
    expect(res.status).toBe(201);
    return res.body.variants[0].id;
  }

  const put = (variantId: string, body: unknown) => ctx.http.put(`/v1/stores/${storeId}/inventory/${variantId}`).set('Authorization', owner.auth).send(body as object);
  const stock = (variantId: string) => ctx.deps.db('inventory').where({ variant_id: variantId }).first('total_stock', 'reserved', 'sold');

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = (await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Inv', slug: `i-${randomUUID().slice(0, 8)}`, currency: 'USD' })).body.id;
  });
  afterAll(() => ctx.close());

  it('sets total_stock and answers the stock figures', async () => {
    const v = await variant(5);
    await ctx.deps.db('inventory').where({ variant_id: v }).update({ reserved: 1, sold: 2 });
    const res = await put(v, { total_stock: 10 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ variant_id: v, total_stock: 10, reserved: 1, sold: 2, available: 7 });
    expect(await stock(v)).toEqual({ total_stock: 10, reserved: 1, sold: 2 });
  });

  it('accepts exactly reserved + sold', async () => {
    const v = await variant(5);
    await ctx.deps.db('inventory').where({ variant_id: v }).update({ reserved: 2, sold: 1 });
    const res = await put(v, { total_stock: 3 });
    expect(res.status).toBe(200);
    expect(res.body.available).toBe(0);
  });

  it('refuses total_stock below reserved + sold with 409 stock_below_committed {reserved, sold}, changing nothing', async () => {
    const v = await variant(5);
    await ctx.deps.db('inventory').where({ variant_id: v }).update({ reserved: 2, sold: 2 });
    const res = await put(v, { total_stock: 3 });
    expectProblem(res, 409, 'stock_below_committed');
    expect(res.body).toMatchObject({ reserved: 2, sold: 2 });
    expect(await stock(v)).toEqual({ total_stock: 5, reserved: 2, sold: 2 });
  });

  it('rejects negative, fractional, absurd or missing totals with 400', async () => {
    const v = await variant(1);
    for (const body of [{ total_stock: -1 }, { total_stock: 1.5 }, { total_stock: 1e12 }, { total_stock: '3' }, {}, { total_stock: 1, reserved: 0 }]) {
      expectProblem(await put(v, body), 400, 'validation_failed');
    }
    expect((await stock(v))!.total_stock).toBe(1);
  });

  it('has the schema refuse an oversell however the write is made (CHECK inventory_no_oversell)', async () => {
    const v = await variant(3);
    await expect(ctx.deps.db('inventory').where({ variant_id: v }).update({ reserved: 2, sold: 2 })).rejects.toMatchObject({
      code: '23514',
      constraint: 'inventory_no_oversell',
    });
    await expect(ctx.deps.db('inventory').where({ variant_id: v }).update({ total_stock: 0, reserved: 1 })).rejects.toMatchObject({ code: '23514' });
    await expect(ctx.deps.db('inventory').where({ variant_id: v }).update({ reserved: -1 })).rejects.toMatchObject({ code: '23514' });
    expect(await stock(v)).toEqual({ total_stock: 3, reserved: 0, sold: 0 });
  });

  it('lets twenty concurrent conditional reservations take exactly the five units in stock', async () => {
    const v = await variant(5);
    // Twenty buyers race for five units the way the next step's reservations will: conditional UPDATE.
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        ctx.deps.db.raw('UPDATE inventory SET reserved = reserved + 1 WHERE variant_id = ? AND total_stock - reserved - sold >= 1 RETURNING reserved', [v]),
      ),
    );
    expect(results.filter((r) => (r as { rows: unknown[] }).rows.length === 1)).toHaveLength(5);
    expect(await stock(v)).toEqual({ total_stock: 5, reserved: 5, sold: 0 });
  });

  it('keeps store_id consistent with the variant (composite foreign key)', async () => {
    const v = await variant(1);
    const other = await makeUser(ctx.deps, { role: 'merchant' });
    const otherStore = (await ctx.http.post('/v1/stores').set('Authorization', other.auth).send({ name: 'O', slug: `o-${randomUUID().slice(0, 8)}`, currency: 'USD' })).body.id;
    await expect(ctx.deps.db('inventory').where({ variant_id: v }).update({ store_id: otherStore })).rejects.toMatchObject({ code: '23503' });
  });
});
