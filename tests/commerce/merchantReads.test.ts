import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { createDrop } from '../drops/fixtures';
import { placeOrder } from './fixtures';

/**
 * What the merchant's store admin reads: their own stores (GET /v1/me/stores), a store's stock per variant
 * (GET /v1/stores/{id}/inventory) and its drops (GET /v1/stores/{id}/drops). Another merchant's store is a 404.
 */
describe('merchant store admin reads', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let merchant: TestUser;
  let rival: TestUser;

  const token = () => randomUUID().replace(/-/g, '').slice(0, 10);

  async function openStore(owner: TestUser, name: string): Promise<string> {
    const res = await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name, slug: `ma-${token()}`, currency: 'eur' });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** The new variants' ids, in the order given (the answer lists them its own way). */
  async function addProduct(owner: TestUser, storeId: string, variants: Array<{ sku: string; inventory_count: number }>, status = 'active'): Promise<string[]> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Tee ${token()}`, base_price_cents: 2_000, status, variants: variants.map((v) => ({ ...v, attributes: { size: v.sku } })) });
    expect(res.status).toBe(201);
    const bySku = new Map<string, string>(res.body.variants.map((v: { id: string; sku: string }) => [v.sku, v.id]));
    return variants.map((v) => bySku.get(v.sku)!);
  }

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    worker = await startTestWorker(ctx.deps);
    merchant = await makeUser(ctx.deps, { role: 'merchant' });
    rival = await makeUser(ctx.deps, { role: 'merchant' });
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  describe('GET /v1/me/stores', () => {
    it("lists only the caller's stores, newest first, paged without skips or repeats, counting drafts too", async () => {
      const owner = await makeUser(ctx.deps, { role: 'merchant' });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await openStore(owner, `Mine ${i}`));
      await openStore(rival, 'Not mine');
      await addProduct(owner, ids[2]!, [{ sku: 'A', inventory_count: 1 }], 'draft');

      const first = await ctx.http.get('/v1/me/stores').query({ limit: 2 }).set('Authorization', owner.auth);
      expect(first.status).toBe(200);
      expect(first.body.data.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
      expect(first.body.data[0]).toMatchObject({ owner_id: owner.id, name: 'Mine 2', currency: 'EUR', product_count: 1 });
      const second = await ctx.http.get('/v1/me/stores').query({ limit: 2, cursor: first.body.next_cursor }).set('Authorization', owner.auth);
      expect(second.body).toEqual({ data: [expect.objectContaining({ id: ids[0], product_count: 0 })], next_cursor: null });
    });

    it('is for merchants, signed in, with a readable cursor', async () => {
      const backer = await makeUser(ctx.deps, { role: 'backer' });
      expectProblem(await ctx.http.get('/v1/me/stores'), 401, 'unauthorized');
      expectProblem(await ctx.http.get('/v1/me/stores').set('Authorization', backer.auth), 403, 'forbidden');
      expectProblem(await ctx.http.get('/v1/me/stores').query({ cursor: 'nope' }).set('Authorization', merchant.auth), 400, 'validation_failed');
      const fresh = await makeUser(ctx.deps, { role: 'merchant' });
      expect((await ctx.http.get('/v1/me/stores').set('Authorization', fresh.auth)).body).toEqual({ data: [], next_cursor: null });
    });
  });

  it("operators list their own stores, and read any store's stock and drops", async () => {
    const email = `op-${randomUUID()}@example.test`;
    const opCtx = createTestContext(testConfig({ OPERATOR_EMAILS: email }));
    try {
      const op = await makeUser(opCtx.deps, { email });
      const own = await opCtx.http.post('/v1/stores').set('Authorization', op.auth).send({ name: 'Ops store', slug: `op-${token()}`, currency: 'EUR' });
      expect(own.status).toBe(201);
      const mine = await opCtx.http.get('/v1/me/stores').set('Authorization', op.auth);
      expect(mine.body.data.map((s: { id: string }) => s.id)).toEqual([own.body.id]);

      const merchantsStore = await openStore(merchant, 'Watched');
      expect((await opCtx.http.get(`/v1/stores/${merchantsStore}/inventory`).set('Authorization', op.auth)).status).toBe(200);
      expect((await opCtx.http.get(`/v1/stores/${merchantsStore}/drops`).set('Authorization', op.auth)).body).toEqual({ data: [], next_cursor: null });
    } finally {
      await opCtx.close();
    }
  });

  describe('GET /v1/stores/{id}/inventory', () => {
    it('shows total, reserved, sold and available per variant by sku, drafts included', async () => {
      const storeId = await openStore(merchant, 'Stocked');
      const [small, large] = await addProduct(merchant, storeId, [
        { sku: 'TEE-S', inventory_count: 5 },
        { sku: 'TEE-L', inventory_count: 3 },
      ]);
      await addProduct(merchant, storeId, [{ sku: 'CAP-1', inventory_count: 0 }], 'draft');
      const shopper = await makeUser(ctx.deps);
      await placeOrder(ctx, shopper, storeId, [[small!, 2]]);

      const res = await ctx.http.get(`/v1/stores/${storeId}/inventory`).set('Authorization', merchant.auth);
      expect(res.status).toBe(200);
      expect(res.body.next_cursor).toBeNull();
      expect(res.body.data.map((l: { sku: string }) => l.sku)).toEqual(['CAP-1', 'TEE-L', 'TEE-S']);
      expect(res.body.data[0]).toMatchObject({ total_stock: 0, available: 0, product: { status: 'draft' } });
      expect(res.body.data[1]).toMatchObject({ variant_id: large, total_stock: 3, reserved: 0, sold: 0, available: 3, attributes: { size: 'TEE-L' }, hot: false });
      expect(res.body.data[2]).toMatchObject({ variant_id: small, total_stock: 5, reserved: 0, sold: 2, available: 3 });

      // Pages by sku: none skipped or repeated.
      const p1 = await ctx.http.get(`/v1/stores/${storeId}/inventory`).query({ limit: 2 }).set('Authorization', merchant.auth);
      const p2 = await ctx.http.get(`/v1/stores/${storeId}/inventory`).query({ limit: 2, cursor: p1.body.next_cursor }).set('Authorization', merchant.auth);
      expect([...p1.body.data, ...p2.body.data].map((l: { sku: string }) => l.sku)).toEqual(['CAP-1', 'TEE-L', 'TEE-S']);
      expect(p2.body.next_cursor).toBeNull();
    });

    it("answers another merchant's store, an unknown one and a bad cursor like the API does", async () => {
      const storeId = await openStore(merchant, 'Private stock');
      expectProblem(await ctx.http.get(`/v1/stores/${storeId}/inventory`).set('Authorization', rival.auth), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/${randomUUID()}/inventory`).set('Authorization', merchant.auth), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/${storeId}/inventory`).query({ cursor: '!!' }).set('Authorization', merchant.auth), 400, 'validation_failed');
    });
  });

  describe('GET /v1/stores/{id}/drops', () => {
    it("lists the store's drops newest first with their live entry count; another merchant gets 404", async () => {
      const storeId = await openStore(merchant, 'Dropping');
      const [variantId] = await addProduct(merchant, storeId, [{ sku: 'DROP-1', inventory_count: 50 }]);
      const shop = { owner: merchant, storeId, variantId: variantId! };
      const older = await createDrop(ctx, shop, { mode: 'lottery', quantity: 3, opensIn: 600, closesIn: 1200 });
      const newer = await createDrop(ctx, shop, { mode: 'fcfs', quantity: 4, opensIn: 600 });

      const res = await ctx.http.get(`/v1/stores/${storeId}/drops`).set('Authorization', merchant.auth);
      expect(res.status).toBe(200);
      expect(res.body.data.map((d: { id: string }) => d.id)).toEqual([newer.id, older.id]);
      expect(res.body.data[1]).toEqual((await ctx.http.get(`/v1/drops/${older.id}`)).body);
      expect(res.body.data[1]).toMatchObject({ mode: 'lottery', quantity: 3, entries_count: 0 });
      expect(res.body.data[0]).not.toHaveProperty('entries_count');
      expect(res.body.data[0]).not.toHaveProperty('seed');

      const page = await ctx.http.get(`/v1/stores/${storeId}/drops`).query({ limit: 1 }).set('Authorization', merchant.auth);
      const rest = await ctx.http.get(`/v1/stores/${storeId}/drops`).query({ limit: 1, cursor: page.body.next_cursor }).set('Authorization', merchant.auth);
      expect([...page.body.data, ...rest.body.data].map((d: { id: string }) => d.id)).toEqual([newer.id, older.id]);

      expectProblem(await ctx.http.get(`/v1/stores/${storeId}/drops`).set('Authorization', rival.auth), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/${storeId}/drops`), 401, 'unauthorized');
    });
  });
});
