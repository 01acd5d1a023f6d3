import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import Redis from 'ioredis';
import { holdExpiryWorkflowId } from '../../src/commerce/contract';
import { holdShard } from '../../src/commerce/holdShards';
import { HotStock, hotStockKey } from '../../src/commerce/hotStock';
import { releaseExpired, reserve } from '../../src/commerce/reservations';

/** Hot (flash-sale) variants: a Redis Lua pre-filter in front of Postgres, which stays the final gate (DESIGN.md, 1). */
describe('hot stock', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;

  async function hotVariant(stock: number, hot = true): Promise<string> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({
        name: `Drop ${randomUUID().slice(0, 6)}`,
        base_price_cents: 5_000,
        variants: [{ sku: `HOT-${randomUUID().slice(0, 8)}`, attributes: {}, inventory_count: stock, hot }],
      });
    expect(res.status).toBe(201);
    return res.body.variants[0].id;
  }

  const inventory = (v: string) =>
    ctx.deps.db('inventory').where({ variant_id: v }).first('total_stock', 'reserved', 'sold') as Promise<{ total_stock: number; reserved: number; sold: number }>;
  const counter = async (v: string) => {
    const raw = await ctx.deps.redis.get(hotStockKey(v));
    return raw === null ? null : Number(raw);
  };
  const newCart = async (): Promise<string> => {
    const res = await ctx.http.post('/v1/carts').send({ store_id: storeId });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const add = (cartId: string, variantId: string, quantity: number) => ctx.http.post(`/v1/carts/${cartId}/items`).send({ variant_id: variantId, quantity });
  const heldSum = async (v: string) => Number((await ctx.deps.db('reservations').where({ variant_id: v, status: 'held' }).sum({ n: 'quantity' }).first())!.n ?? 0);

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = (await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Drops', slug: `h-${randomUUID().slice(0, 8)}`, currency: 'EUR' })).body.id;
  });
  afterAll(() => ctx.close());

  it('lets exactly 20 of 300 carts hold a hot variant with 20 units; Postgres and the counter agree', async () => {
    const v = await hotVariant(20);
    const carts = await Promise.all(Array.from({ length: 300 }, () => newCart()));
    const responses = await Promise.all(carts.map((cartId) => add(cartId, v, 1)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(280);
    for (const r of responses.filter((x) => x.status === 409)) {
      expectProblem(r, 409, 'insufficient_stock');
      expect(r.body).toMatchObject({ variant_id: v, available: 0 });
    }
    expect(await inventory(v)).toEqual({ total_stock: 20, reserved: 20, sold: 0 });
    expect(await heldSum(v)).toBe(20);
    expect(await counter(v)).toBe(0);
    expect(await ctx.deps.redis.ttl(hotStockKey(v))).toBeGreaterThan(0);
  });

  it('rebuilds a lost counter from Postgres mid-sale and still never oversells', async () => {
    const v = await hotVariant(20);
    const carts = await Promise.all(Array.from({ length: 300 }, () => newCart()));
    // Wave 1 races while the counter is deleted under it: once its 10th answer is in, with the rest in flight.
    let answered = 0;
    let deletion: Promise<number> | undefined;
    let answeredAfterDeletion = 0;
    const first = await Promise.all(
      carts.slice(0, 120).map((cartId) =>
        add(cartId, v, 1).then(async (r) => {
          if (deletion) answeredAfterDeletion++;
          if (++answered === 10) deletion = ctx.deps.redis.del(hotStockKey(v));
          if (deletion) await deletion;
          return r;
        }),
      ),
    );
    expect(await deletion).toBe(1);
    expect(answeredAfterDeletion).toBeGreaterThan(0);
    // Requests after the loss rebuilt the counter from Postgres (SET NX), and it is not below the truth.
    const rebuilt = await counter(v);
    expect(rebuilt).not.toBeNull();
    expect(rebuilt).toBeGreaterThanOrEqual(20 - (await inventory(v)).reserved);
    // Lost again between waves: wave 2 starts from a rebuild.
    await ctx.deps.redis.del(hotStockKey(v));
    const second = await Promise.all(carts.slice(120).map((cartId) => add(cartId, v, 1)));

    const all = [...first, ...second].map((r) => r.status);
    expect(all.filter((s) => s !== 200 && s !== 409)).toEqual([]);
    expect(all.filter((s) => s === 200)).toHaveLength(20);
    const stock = await inventory(v);
    expect(stock.reserved).toBe(20);
    expect(stock.reserved + stock.sold).toBeLessThanOrEqual(stock.total_stock);
    expect(await heldSum(v)).toBe(20);
    // Whatever the counter says, it is never below the truth (0 free); a fresh rebuild agrees exactly.
    expect(await counter(v)).toBeGreaterThanOrEqual(0);
    await ctx.deps.redis.del(hotStockKey(v));
    expect(await new HotStock(ctx.deps.redis, ctx.deps.db).rebuild(storeId, v)).toBe(true);
    expect(await counter(v)).toBe(0);
  });

  it('answers 409 from Redis alone when the counter says no, leaving Postgres untouched', async () => {
    const v = await hotVariant(5);
    const cartId = await newCart();
    expect((await add(cartId, v, 2)).status).toBe(200);
    expect(await counter(v)).toBe(3);
    // The counter is the pre-filter: set lower than Postgres, it alone refuses (a fresh rebuild would say 3).
    await ctx.deps.redis.set(hotStockKey(v), 1, 'KEEPTTL');
    const turnedAway = await newCart();
    const res = await add(turnedAway, v, 2);
    expectProblem(res, 409, 'insufficient_stock');
    expect(res.body).toMatchObject({ variant_id: v, available: 1 });
    expect(await inventory(v)).toMatchObject({ reserved: 2 });
    // Refused before Postgres: the cart holds nothing, not even a released row.
    expect(await ctx.deps.db('reservations').where({ cart_id: turnedAway }).pluck('status')).toEqual([]);
    // A cart that fits under the counter still gets its hold, and the hold's sweeper runs.
    const fits = await newCart();
    expect((await add(fits, v, 1)).status).toBe(200);
    const { config } = ctx.deps;
    const sweeper = (await ctx.deps.temporal.client()).workflow.getHandle(holdExpiryWorkflowId(config.TASK_QUEUE, holdShard(v, config.HOLD_EXPIRY_SHARDS)));
    expect((await sweeper.describe()).status.name).toBe('RUNNING');
    expect(await inventory(v)).toMatchObject({ reserved: 3 });
  });

  it('gives units back to the counter on lowering, removing, cart release and expiry', async () => {
    const v = await hotVariant(10);
    const cartId = await newCart();
    expect((await add(cartId, v, 4)).status).toBe(200);
    expect(await counter(v)).toBe(6);

    expect((await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 1 })).status).toBe(200);
    expect(await counter(v)).toBe(9);
    expect((await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 3 })).status).toBe(200);
    expect(await counter(v)).toBe(7);
    expect((await ctx.http.delete(`/v1/carts/${cartId}/items/${v}`)).status).toBe(200);
    expect(await counter(v)).toBe(10);
    expect(await inventory(v)).toMatchObject({ reserved: 0 });

    // Expiry (the sweepers' release, here scoped to one cart so no other test's hold is touched), on a hold whose time has passed.
    const other = await newCart();
    expect((await add(other, v, 5)).status).toBe(200);
    expect(await counter(v)).toBe(5);
    await ctx.deps.db('reservations').where({ cart_id: other, variant_id: v }).update({ expires_at: new Date(Date.now() - 1_000) });
    const hot = new HotStock(ctx.deps.redis, ctx.deps.db);
    expect((await releaseExpired(ctx.deps.db, other, hot)).released).toBe(1);
    expect(await counter(v)).toBe(10);
    expect(await inventory(v)).toMatchObject({ reserved: 0 });
    // Released again: nothing moves, in Postgres or Redis.
    expect((await releaseExpired(ctx.deps.db, other, hot)).released).toBe(0);
    expect(await counter(v)).toBe(10);

    // Without a counter, a release leaves it missing (the next take rebuilds it from Postgres).
    expect((await add(other, v, 2)).status).toBe(200);
    await ctx.deps.redis.del(hotStockKey(v));
    expect((await ctx.http.delete(`/v1/carts/${other}/items/${v}`)).status).toBe(200);
    expect(await counter(v)).toBeNull();
  });

  it('never takes twice in Redis for a retried reservation id', async () => {
    const v = await hotVariant(10);
    const hot = new HotStock(ctx.deps.redis, ctx.deps.db);
    const holdId = randomUUID();
    expect(await hot.take(storeId, v, 3, holdId)).toEqual({ kind: 'taken', left: 7 });
    expect(await hot.take(storeId, v, 3, holdId)).toEqual({ kind: 'replayed', quantity: 3 });
    expect(await counter(v)).toBe(7);
    expect(await hot.take(storeId, v, 8, randomUUID())).toEqual({ kind: 'insufficient', available: 7 });
    // Given back (Postgres refused): the id's record goes too, so a later retry may take again.
    await hot.giveBack(v, 3, holdId);
    expect(await counter(v)).toBe(10);
    expect(await hot.take(storeId, v, 3, holdId)).toEqual({ kind: 'taken', left: 7 });
  });

  it('gives Redis units back when Postgres refuses after the pre-filter let a request through', async () => {
    const v = await hotVariant(3);
    // A counter ahead of the truth (e.g. a stale rebuild): Redis says yes, Postgres says no.
    await ctx.deps.redis.set(hotStockKey(v), 10, 'EX', 60);
    await ctx.deps.db('inventory').where({ variant_id: v }).update({ reserved: 3 });
    const res = await add(await newCart(), v, 2);
    expectProblem(res, 409, 'insufficient_stock');
    expect(res.body).toMatchObject({ variant_id: v, available: 0 });
    expect(await counter(v)).toBe(10);
  });

  it('falls through to Postgres when Redis is unreachable', async () => {
    const v = await hotVariant(2);
    // Nothing listens there; no reconnects, so the client leaves no handle behind.
    const dead = new Redis('redis://127.0.0.1:1/0', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on('error', () => undefined);
    try {
      const hot = new HotStock(dead, ctx.deps.db);
      const expiresAt = new Date(Date.now() + 60_000);
      const line = await reserve(ctx.deps.db, { storeId, cartId: randomUUID(), variantId: v, quantity: 2, expiresAt }, hot);
      expect(line.quantity).toBe(2);
      await expect(reserve(ctx.deps.db, { storeId, cartId: randomUUID(), variantId: v, quantity: 1, expiresAt }, hot)).rejects.toMatchObject({
        name: 'InsufficientStockError',
      });
      expect(await inventory(v)).toMatchObject({ reserved: 2 });
    } finally {
      dead.disconnect();
    }
  });

  it('leaves non-hot variants to Postgres alone (no counter)', async () => {
    const v = await hotVariant(3, false);
    expect((await add(await newCart(), v, 2)).status).toBe(200);
    expect(await counter(v)).toBeNull();
    expect(await inventory(v)).toMatchObject({ reserved: 2 });
  });

  it('drops the counter on a restock so the next take sees the new stock', async () => {
    const v = await hotVariant(2);
    expect((await add(await newCart(), v, 2)).status).toBe(200);
    expect(await counter(v)).toBe(0);
    expect((await ctx.http.put(`/v1/stores/${storeId}/inventory/${v}`).set('Authorization', owner.auth).send({ total_stock: 5 })).status).toBe(200);
    expect(await counter(v)).toBeNull();
    expect((await add(await newCart(), v, 3)).status).toBe(200);
    expect(await counter(v)).toBe(0);
  });
});
