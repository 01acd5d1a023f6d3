import { randomUUID } from 'node:crypto';
import { holdForAdds } from '../../src/commerce/reservations';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { createStore, createVariant, inventoryOf } from './fixtures';

/**
 * holdForAdds: the adds of one variant written in one statement (the add path's group commit) answer as if
 * each had run alone, in arrival order.
 */
describe('batched cart adds', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;
  const TTL_MS = 60_000;

  const held = (variantId: string) =>
    ctx.deps.db('reservations').where({ variant_id: variantId, status: 'held' }).orderBy('cart_id').select('cart_id', 'quantity') as Promise<Array<{ cart_id: string; quantity: number }>>;

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = await createStore(ctx, owner, 'Batches');
  });
  afterAll(() => ctx.close());

  it('holds the prefix that fits, then a smaller later add that still fits, and refuses the rest with what is left', async () => {
    const v = await createVariant(ctx, owner, storeId, 5, 1_200);
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const outcomes = await holdForAdds(ctx.deps.db, storeId, v, [
      { cartId: a, quantity: 3 },
      { cartId: b, quantity: 3 },
      { cartId: c, quantity: 2 },
      { cartId: d, quantity: 1 },
    ], TTL_MS);
    expect(outcomes.map((o) => o.kind)).toEqual(['held', 'insufficient', 'held', 'insufficient']);
    expect(outcomes[0]).toMatchObject({ priceCents: 1_200, lines: [{ variant_id: v, quantity: 3 }] });
    expect(outcomes[1]).toEqual({ kind: 'insufficient', available: 2 });
    expect(outcomes[3]).toEqual({ kind: 'insufficient', available: 0 });
    expect(await inventoryOf(ctx, v)).toEqual({ total_stock: 5, reserved: 5, sold: 0 });
    expect(await held(v)).toEqual([{ cart_id: a, quantity: 3 }, { cart_id: c, quantity: 2 }].sort((x, y) => x.cart_id.localeCompare(y.cart_id)));
  });

  it("adds a cart's repeated add to its line, moves its other holds to the new expiry and answers every held line", async () => {
    const [v, w] = [await createVariant(ctx, owner, storeId, 10), await createVariant(ctx, owner, storeId, 10)];
    const [a, b] = [randomUUID(), randomUUID()];
    await holdForAdds(ctx.deps.db, storeId, w, [{ cartId: a, quantity: 1 }], 1_000);
    const outcomes = await holdForAdds(ctx.deps.db, storeId, v, [
      { cartId: a, quantity: 2 },
      { cartId: b, quantity: 1 },
      { cartId: a, quantity: 4 },
    ], TTL_MS);
    expect(outcomes.map((o) => o.kind)).toEqual(['held', 'held', 'held']);
    const lines = (i: number) => {
      const o = outcomes[i]!;
      return (o.kind === 'held' ? o.lines : []).map((l) => [l.variant_id, l.quantity]).sort();
    };
    expect(lines(0)).toEqual([[v, 2], [w, 1]].sort());
    expect(lines(1)).toEqual([[v, 1]]);
    expect(lines(2)).toEqual([[v, 6], [w, 1]].sort());
    expect(await inventoryOf(ctx, v)).toEqual({ total_stock: 10, reserved: 7, sold: 0 });
    const other = await ctx.deps.db('reservations').where({ cart_id: a, variant_id: w, status: 'held' }).first(ctx.deps.db.raw('EXTRACT(EPOCH FROM (expires_at - now())) AS s'));
    expect(Number(other.s)).toBeGreaterThan(30);
  });

  it('answers unknown for another store’s variant and not for sale for an archived product, holding nothing', async () => {
    const v = await createVariant(ctx, owner, storeId, 10);
    const adds = [{ cartId: randomUUID(), quantity: 1 }, { cartId: randomUUID(), quantity: 1 }];
    expect(await holdForAdds(ctx.deps.db, randomUUID(), v, adds, TTL_MS)).toEqual([{ kind: 'unknown' }, { kind: 'unknown' }]);
    const { product_id } = await ctx.deps.db('variants').where({ id: v }).first('product_id');
    await ctx.deps.db('products').where({ id: product_id }).update({ status: 'archived' });
    expect(await holdForAdds(ctx.deps.db, storeId, v, adds, TTL_MS)).toEqual([{ kind: 'not_for_sale' }, { kind: 'not_for_sale' }]);
    expect(await inventoryOf(ctx, v)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
  });

  it('never oversells when batches race each other and single adds on one row', async () => {
    const v = await createVariant(ctx, owner, storeId, 25);
    const batches = Array.from({ length: 8 }, () => holdForAdds(ctx.deps.db, storeId, v, Array.from({ length: 6 }, () => ({ cartId: randomUUID(), quantity: 1 })), TTL_MS));
    const singles = Array.from({ length: 10 }, () => holdForAdds(ctx.deps.db, storeId, v, [{ cartId: randomUUID(), quantity: 1 }], TTL_MS));
    const outcomes = (await Promise.all([...batches, ...singles])).flat();
    expect(outcomes.filter((o) => o.kind === 'held')).toHaveLength(25);
    expect(outcomes.filter((o) => o.kind === 'insufficient')).toHaveLength(58 - 25);
    expect(await inventoryOf(ctx, v)).toEqual({ total_stock: 25, reserved: 25, sold: 0 });
    expect(await held(v)).toHaveLength(25);
  });
});
