import { randomUUID } from 'node:crypto';
import { openHeldCart } from '../../src/commerce/heldCart';
import { HotStock, hotStockKey } from '../../src/commerce/hotStock';
import { holdExpiryWorkflowId } from '../../src/commerce/contract';
import { holdShard } from '../../src/commerce/holdShards';
import { TemporalClientProvider } from '../../src/temporal/client';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { createStore, inventoryOf } from './fixtures';

/**
 * Carts opened already holding a unit (a drop's winner or admitted shopper): a retried activity overlapping its
 * first try calls openHeldCart twice with the same cart id at once, and must still hold one unit, not two.
 */
describe('held carts', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = await createStore(ctx, owner, 'Held carts');
  });
  afterAll(() => ctx.close());

  async function variant(stock: number, hot: boolean): Promise<string> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Held ${randomUUID().slice(0, 6)}`, base_price_cents: 4_000, variants: [{ sku: `H-${randomUUID().slice(0, 8)}`, attributes: {}, inventory_count: stock, hot }] });
    expect(res.status).toBe(201);
    return res.body.variants[0].id;
  }

  it.each([
    ['a normal variant', false],
    ['a hot variant', true],
  ])('holds once when the same cart is opened ten times at once (%s)', async (_name, hot) => {
    const v = await variant(5, hot);
    const shopper = await makeUser(ctx.deps);
    const hotStock = new HotStock(ctx.deps.redis, ctx.deps.db);
    const cartId = randomUUID();
    const request = { cartId, storeId, variantId: v, ownerId: shopper.id, quantity: 1, unitPriceCents: 3_000 };
    const carts = await Promise.all(Array.from({ length: 10 }, () => openHeldCart({ ...ctx.deps, hotStock }, request)));

    expect(new Set(carts.map((c) => c.doc.id))).toEqual(new Set([cartId]));
    expect(carts[0]!.doc.items).toEqual([{ variant_id: v, quantity: 1, unit_price_cents: 3_000 }]);
    expect(await inventoryOf(ctx, v)).toEqual({ total_stock: 5, reserved: 1, sold: 0 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).select('status', 'quantity')).toEqual([{ status: 'held', quantity: 1 }]);
    if (hot) expect(Number(await ctx.deps.redis.get(hotStockKey(v)))).toBe(4);
    // The hold's sweeper was told (signal-with-start): it runs.
    const { config } = ctx.deps;
    const sweeper = (await ctx.deps.temporal.client()).workflow.getHandle(holdExpiryWorkflowId(config.TASK_QUEUE, holdShard(v, config.HOLD_EXPIRY_SHARDS)));
    expect((await sweeper.describe()).status.name).toBe('RUNNING');
  });

  it('tells the hold\'s sweeper before taking stock: with Temporal unreachable nothing is held', async () => {
    const v = await variant(5, false);
    const shopper = await makeUser(ctx.deps);
    const temporal = new TemporalClientProvider('127.0.0.1:1', 'default');
    const cartId = randomUUID();
    try {
      await expect(openHeldCart({ ...ctx.deps, temporal }, { cartId, storeId, variantId: v, ownerId: shopper.id, quantity: 1, unitPriceCents: 3_000 })).rejects.toThrow();
    } finally {
      await temporal.close();
    }
    expect(await inventoryOf(ctx, v)).toEqual({ total_stock: 5, reserved: 0, sold: 0 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual([]);
  });
});
