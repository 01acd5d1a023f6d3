import { randomUUID } from 'node:crypto';
import { holdExpiryStateQuery, holdExpiryWorkflowId } from '../../src/commerce/contract';
import { holdShard } from '../../src/commerce/holdShards';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';

/** Carts, their stock holds (no oversell) and the holds' expiry (the hold-expiry sweepers). */
describe('carts', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;

  async function variant(c: TestContext, stock: number, status = 'active', store = storeId): Promise<string> {
    const res = await c.http
      .post(`/v1/stores/${store}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Tee ${randomUUID().slice(0, 6)}`, base_price_cents: 2_500, inventory_count: stock, status });
    expect(res.status).toBe(201);
    return res.body.variants[0].id;
  }

  const inventory = (c: TestContext, v: string) =>
    c.deps.db('inventory').where({ variant_id: v }).first('total_stock', 'reserved', 'sold') as Promise<{ total_stock: number; reserved: number; sold: number }>;
  const newCart = async (c: TestContext, auth?: string): Promise<string> => {
    const req = c.http.post('/v1/carts');
    if (auth) req.set('Authorization', auth);
    const res = await req.send({ store_id: storeId });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const add = (c: TestContext, cartId: string, variantId: string, quantity: number, auth?: string) => {
    const req = c.http.post(`/v1/carts/${cartId}/items`);
    if (auth) req.set('Authorization', auth);
    return req.send({ variant_id: variantId, quantity });
  };

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = (await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Carts', slug: `c-${randomUUID().slice(0, 8)}`, currency: 'EUR' })).body.id;
  });
  afterAll(() => ctx.close());

  it('opens a guest cart, holds stock on add and answers lines, holds and totals', async () => {
    const v = await variant(ctx, 10);
    const created = await ctx.http.post('/v1/carts').send({ store_id: storeId });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ store_id: storeId, currency: 'EUR', items: [], subtotal_cents: 0 });
    const expiresIn = Date.parse(created.body.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(47 * 3600_000);
    expect(expiresIn).toBeLessThanOrEqual(48 * 3600_000);

    const res = await add(ctx, created.body.id, v, 3);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      { variant_id: v, quantity: 3, unit_price_cents: 2_500, line_total_cents: 7_500, reserved_until: expect.any(String) },
    ]);
    expect(res.body.subtotal_cents).toBe(7_500);
    const heldFor = Date.parse(res.body.items[0].reserved_until) - Date.now();
    expect(heldFor).toBeGreaterThan(14 * 60_000);
    expect(heldFor).toBeLessThanOrEqual(15 * 60_000);
    expect(await inventory(ctx, v)).toEqual({ total_stock: 10, reserved: 3, sold: 0 });

    // Adding again grows the same line (one held reservation per line).
    const again = await add(ctx, created.body.id, v, 2);
    expect(again.body.items).toHaveLength(1);
    expect(again.body.items[0].quantity).toBe(5);
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 5 });
    const rows = await ctx.deps.db('reservations').where({ cart_id: created.body.id }).select('status', 'quantity');
    expect(rows).toEqual([{ status: 'held', quantity: 5 }]);

    const got = await ctx.http.get(`/v1/carts/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: created.body.id, subtotal_cents: 12_500, items: [{ variant_id: v, quantity: 5 }] });
  });

  it('gives a signed-in shopper a 30-day cart that nobody else can see or change (404)', async () => {
    const [alice, bob] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const v = await variant(ctx, 5);
    const cartId = await newCart(ctx, alice.auth);
    expect((await ctx.http.get(`/v1/carts/${cartId}`).set('Authorization', alice.auth)).body.expires_at > new Date(Date.now() + 29 * 86_400_000).toISOString()).toBe(true);
    expect((await add(ctx, cartId, v, 1, alice.auth)).status).toBe(200);

    for (const auth of [bob.auth, undefined]) {
      const withAuth = <T extends { set(k: string, v: string): T }>(r: T) => (auth ? r.set('Authorization', auth) : r);
      expectProblem(await withAuth(ctx.http.get(`/v1/carts/${cartId}`)), 404, 'not_found');
      expectProblem(await add(ctx, cartId, v, 1, auth), 404, 'not_found');
      expectProblem(await withAuth(ctx.http.patch(`/v1/carts/${cartId}/items/${v}`)).send({ quantity: 3 }), 404, 'not_found');
      expectProblem(await withAuth(ctx.http.delete(`/v1/carts/${cartId}/items/${v}`)), 404, 'not_found');
    }
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 1 });
    expectProblem(await ctx.http.get(`/v1/carts/${randomUUID()}`), 404, 'not_found');
  });

  it('makes a guest cart the shopper\'s as they sign in: lines and holds kept, 30-day life, then closed to the bare id and to others', async () => {
    const [alice, bob] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const v = await variant(ctx, 5);
    const cartId = await newCart(ctx);
    expect((await add(ctx, cartId, v, 2)).status).toBe(200);
    const heldBefore = await ctx.deps.db('reservations').where({ cart_id: cartId }).first('status', 'quantity', 'expires_at');

    expectProblem(await ctx.http.post(`/v1/carts/${cartId}/claim`).send({}), 401, 'unauthorized');
    const claimed = await ctx.http.post(`/v1/carts/${cartId}/claim`).set('Authorization', alice.auth).send({});
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ id: cartId, store_id: storeId, subtotal_cents: 5_000, items: [{ variant_id: v, quantity: 2, reserved_until: expect.any(String) }] });
    expect(Date.parse(claimed.body.expires_at)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    // The holds are the same ones: claiming neither releases nor re-takes stock.
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).first('status', 'quantity', 'expires_at')).toEqual(heldBefore);
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 2 });

    // Hers alone now: the id without her token, and another account, find nothing.
    expectProblem(await ctx.http.get(`/v1/carts/${cartId}`), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/carts/${cartId}`).set('Authorization', bob.auth), 404, 'not_found');
    expectProblem(await ctx.http.post(`/v1/carts/${cartId}/claim`).set('Authorization', bob.auth).send({}), 404, 'not_found');
    expect((await add(ctx, cartId, v, 1, alice.auth)).body.items[0].quantity).toBe(3);
    // Claiming one's own cart again answers it as it is.
    const again = await ctx.http.post(`/v1/carts/${cartId}/claim`).set('Authorization', alice.auth).send({});
    expect(again.status).toBe(200);
    expect(again.body.items[0].quantity).toBe(3);
    expectProblem(await ctx.http.post(`/v1/carts/${randomUUID()}/claim`).set('Authorization', alice.auth).send({}), 404, 'not_found');
    expectProblem(await ctx.http.post('/v1/carts/Not_A_Uuid!/claim').set('Authorization', alice.auth).send({}), 400, 'validation_failed');
  });

  it('lets exactly the stock be held when 300 carts race for 20 units', async () => {
    const v = await variant(ctx, 20);
    const carts = await Promise.all(Array.from({ length: 300 }, () => newCart(ctx)));
    const responses = await Promise.all(carts.map((cartId) => add(ctx, cartId, v, 1)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(280);
    for (const r of responses.filter((x) => x.status === 409)) {
      expectProblem(r, 409, 'insufficient_stock');
      expect(r.body).toMatchObject({ variant_id: v, available: 0 });
    }
    const stock = await inventory(ctx, v);
    expect(stock.reserved).toBe(20);
    expect(stock.reserved + stock.sold).toBeLessThanOrEqual(stock.total_stock);
    const held = await ctx.deps.db('reservations').where({ variant_id: v, status: 'held' }).sum({ n: 'quantity' }).first();
    expect(Number(held!.n)).toBe(20);
  });

  it('refuses more than is available with 409 insufficient_stock {variant_id, available}, holding nothing', async () => {
    const v = await variant(ctx, 4);
    const cartId = await newCart(ctx);
    const res = await add(ctx, cartId, v, 5);
    expectProblem(res, 409, 'insufficient_stock');
    expect(res.body).toMatchObject({ variant_id: v, available: 4 });
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 0 });
    expect((await ctx.http.get(`/v1/carts/${cartId}`)).body.items).toEqual([]);
  });

  it('returns units at once when a line is lowered, removed with 0, or deleted; raising holds the difference', async () => {
    const v = await variant(ctx, 10);
    const w = await variant(ctx, 10);
    const cartId = await newCart(ctx);
    await add(ctx, cartId, v, 6);
    await add(ctx, cartId, w, 2);

    const lowered = await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 2 });
    expect(lowered.status).toBe(200);
    expect(lowered.body.items.find((i: { variant_id: string }) => i.variant_id === v).quantity).toBe(2);
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 2 });

    const raised = await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 9 });
    expect(raised.status).toBe(200);
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 9 });
    const tooMany = await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 11 });
    expectProblem(tooMany, 409, 'insufficient_stock');
    expect(tooMany.body).toMatchObject({ variant_id: v, available: 1 });
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 9 });

    const zero = await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 0 });
    expect(zero.status).toBe(200);
    expect(zero.body.items.map((i: { variant_id: string }) => i.variant_id)).toEqual([w]);
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 0 });

    const deleted = await ctx.http.delete(`/v1/carts/${cartId}/items/${w}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ items: [], subtotal_cents: 0 });
    expect(await inventory(ctx, w)).toMatchObject({ reserved: 0 });
    // Deleting again changes nothing.
    expect((await ctx.http.delete(`/v1/carts/${cartId}/items/${w}`)).status).toBe(200);
    expect(await inventory(ctx, w)).toMatchObject({ reserved: 0 });
    const statuses = await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status');
    expect(statuses.every((s: string) => s === 'released')).toBe(true);
  });

  it('refuses bad input with 400, unknown or foreign variants with 404, archived products with 422', async () => {
    const v = await variant(ctx, 5);
    const cartId = await newCart(ctx);
    for (const body of [{ variant_id: v, quantity: 0 }, { variant_id: v, quantity: 101 }, { variant_id: v, quantity: 1.5 }, { variant_id: 'x', quantity: 1 }, { variant_id: v }, { variant_id: v, quantity: 1, price: 1 }]) {
      expectProblem(await ctx.http.post(`/v1/carts/${cartId}/items`).send(body), 400, 'validation_failed');
    }
    for (const body of [{ quantity: -1 }, { quantity: 101 }, {}]) {
      expectProblem(await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).send(body), 400, 'validation_failed');
    }
    expectProblem(await ctx.http.post('/v1/carts').send({ store_id: 'nope' }), 400, 'validation_failed');
    expectProblem(await ctx.http.post('/v1/carts').send({ store_id: randomUUID() }), 404, 'not_found');

    const otherStore = (await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Other', slug: `o-${randomUUID().slice(0, 8)}`, currency: 'EUR' })).body.id;
    const foreign = await variant(ctx, 5, 'active', otherStore);
    expectProblem(await add(ctx, cartId, foreign, 1), 404, 'not_found');
    expectProblem(await add(ctx, cartId, randomUUID(), 1), 404, 'not_found');
    expectProblem(await add(ctx, cartId, await variant(ctx, 5, 'draft'), 1), 404, 'not_found');
    expectProblem(await add(ctx, cartId, await variant(ctx, 5, 'archived'), 1), 422, 'product_unavailable');

    expect((await add(ctx, cartId, v, 5)).status).toBe(200);
    expectProblem(await add(ctx, cartId, v, 96), 422, 'quantity_limit');
    expect(await inventory(ctx, foreign)).toMatchObject({ reserved: 0 });
    expect(await inventory(ctx, v)).toMatchObject({ reserved: 5 });
  });

  it('answers 503 workflow_unavailable with Retry-After when the holds\' timers cannot be made sure of, holding nothing; then once per process', async () => {
    // An API whose Temporal is unreachable: its first hold must not be taken without a timer.
    const down = createTestContext(testConfig({ TEMPORAL_ADDRESS: '127.0.0.1:1' }));
    try {
      const v = await variant(ctx, 5);
      const cartId = await newCart(down);
      const res = await add(down, cartId, v, 1);
      expectProblem(res, 503, 'workflow_unavailable');
      expect(res.headers['retry-after']).toBe('5');
      expect(await inventory(ctx, v)).toMatchObject({ reserved: 0 });
      expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual([]);
    } finally {
      await down.close();
    }
    // A working API: its first add makes sure of the sweepers (one Temporal call), later adds never ask again.
    const once = createTestContext(testConfig());
    try {
      const temporalCalls = jest.spyOn(once.deps.temporal, 'withDeadline');
      const v = await variant(ctx, 5);
      for (let i = 0; i < 3; i++) expect((await add(once, await newCart(once), v, 1)).status).toBe(200);
      expect(temporalCalls).toHaveBeenCalledTimes(1);
      expect(await inventory(ctx, v)).toMatchObject({ reserved: 3 });
    } finally {
      await once.close();
    }
  });

  describe('reservation TTL (real timers, RESERVATION_TTL 6 s)', () => {
    // Seconds, not minutes, so the holds really run out in the test; 6 rather than 3 so that a loaded machine's
    // slow answers (CI runs many suites on two cores) still land well inside a hold.
    let short: TestContext;
    let worker: Awaited<ReturnType<typeof startTestWorker>>;

    beforeAll(async () => {
      short = createTestContext(testConfig({ RESERVATION_TTL: '6' }));
      worker = await startTestWorker(short.deps);
    });
    afterAll(async () => {
      await worker.stop();
      await short.close();
    });

    const available = async (v: string) => {
      const s = await inventory(short, v);
      return s.total_stock - s.reserved - s.sold;
    };

    it('returns the stock by itself when the cart is left alone, and drops the line from the cart', async () => {
      const v = await variant(ctx, 5);
      const cartId = await newCart(short);
      const added = await add(short, cartId, v, 4);
      expect(added.status).toBe(200);
      expect(await available(v)).toBe(1);
      // The hold's timer: its shard's sweeper runs and will read its holds again by the hold's end.
      const { config } = short.deps;
      const shard = holdShard(v, config.HOLD_EXPIRY_SHARDS);
      const sweeper = (await short.deps.temporal.client()).workflow.getHandle(holdExpiryWorkflowId(config.TASK_QUEUE, shard));
      const description = await sweeper.describe();
      expect(description.status.name).toBe('RUNNING');
      expect(await description.staticSummary()).toBe(`Releases expired cart holds of shard ${shard} of ${config.HOLD_EXPIRY_SHARDS}`);
      const state = await eventually(async () => {
        const q = await sweeper.query(holdExpiryStateQuery);
        return q.nextWakeAt !== null && q;
      }, 5_000, 'the sweeper to sleep');
      // While the hold is held, the sweeper's next read is no later than its end (a loaded machine may answer
      // the query only after the release, when the next read is the bound after that one).
      const heldStill = (await short.deps.db('reservations').where({ cart_id: cartId }).first('status')).status === 'held';
      if (heldStill) expect(Date.parse(state.nextWakeAt!)).toBeLessThanOrEqual(Date.parse(added.body.items[0].reserved_until) + state.gatherMs);

      await eventually(async () => (await available(v)) === 5, 20_000, 'the hold to expire');
      const rows = await short.deps.db('reservations').where({ cart_id: cartId }).pluck('status');
      expect(rows).toEqual(['released']);
      await eventually(async () => (await short.http.get(`/v1/carts/${cartId}`)).body.items.length === 0, 5_000, 'the line to leave the cart');
      expect((await sweeper.query(holdExpiryStateQuery)).released).toBeGreaterThanOrEqual(1);
    });

    it('extends every hold of the cart on each cart activity', async () => {
      const v = await variant(ctx, 5);
      const w = await variant(ctx, 5);
      const cartId = await newCart(short);
      const first = await add(short, cartId, v, 2);
      const originalExpiry = Date.parse(first.body.items[0].reserved_until);
      await new Promise((r) => setTimeout(r, 2_000));
      const second = await add(short, cartId, w, 1);
      expect(second.status).toBe(200);
      for (const item of second.body.items) expect(Date.parse(item.reserved_until)).toBeGreaterThan(originalExpiry + 1_500);

      // Past the first expiry, both lines are still held...
      await new Promise((r) => setTimeout(r, Math.max(0, originalExpiry + 700 - Date.now())));
      expect(await available(v)).toBe(3);
      // ...and a PATCH pushes them on again.
      expect((await short.http.patch(`/v1/carts/${cartId}/items/${v}`).send({ quantity: 3 })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await available(v)).toBe(2);
      expect(await available(w)).toBe(4);
      await eventually(async () => (await available(v)) === 5 && (await available(w)) === 5, 20_000, 'the extended holds to expire');
    });
  });
});
