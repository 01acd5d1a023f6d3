import { randomUUID } from 'node:crypto';
import { registerAccount, type RegisteredAccount } from '../helpers/api';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';

/** Stores and products over HTTP: creation, variants, sku and price rules, and tenant isolation. */
describe('stores and products', () => {
  let ctx: TestContext;
  let merchant: RegisteredAccount;
  let storeId: string;

  const slug = () => `shop-${randomUUID().slice(0, 8)}`;

  async function createStore(owner: { auth: string }, body: Record<string, unknown> = {}) {
    const res = await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Gadgets', slug: slug(), currency: 'usd', ...body });
    return res;
  }

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    merchant = await registerAccount(ctx.http, { role: 'merchant' });
    const res = await createStore(merchant);
    expect(res.status).toBe(201);
    storeId = res.body.id;
  });
  afterAll(() => ctx.close());

  describe('POST /v1/stores', () => {
    it('creates a store owned by the merchant, currency upper-cased', async () => {
      const s = slug();
      const res = await createStore(merchant, { slug: s, name: 'My Shop' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        owner_id: merchant.id,
        name: 'My Shop',
        slug: s,
        currency: 'USD',
        created_at: expect.any(String),
      });
      const row = await ctx.deps.db('stores').where({ id: res.body.id }).first();
      expect(row).toMatchObject({ owner_id: merchant.id, slug: s, currency: 'USD' });
    });

    it('answers 409 slug_taken for a slug in use, whoever asks', async () => {
      const s = slug();
      expect((await createStore(merchant, { slug: s })).status).toBe(201);
      const other = await makeUser(ctx.deps, { role: 'merchant' });
      const res = await createStore(other, { slug: s });
      expectProblem(res, 409, 'slug_taken');
      expect(await ctx.deps.db('stores').where({ slug: s }).count<{ count: string }[]>('* as count')).toEqual([{ count: 1 }]);
    });

    it('rejects a malformed slug with 400', async () => {
      for (const bad of ['ab', 'Has-Caps', 'with space', 'x'.repeat(61)]) {
        expectProblem(await createStore(merchant, { slug: bad }), 400, 'validation_failed');
      }
    });

    it('is for merchants: a backer gets 403, nobody without a token 401', async () => {
      const backer = await registerAccount(ctx.http, { role: 'backer' });
      expectProblem(await createStore(backer), 403, 'forbidden');
      expectProblem(await ctx.http.post('/v1/stores').send({ name: 'x', slug: slug(), currency: 'USD' }), 401, 'unauthorized');
    });

    it('lets operators open stores too', async () => {
      const email = `op-${randomUUID()}@example.test`;
      const opCtx = createTestContext(testConfig({ OPERATOR_EMAILS: email }));
      try {
        const op = await makeUser(opCtx.deps, { email });
        const res = await opCtx.http.post('/v1/stores').set('Authorization', op.auth).send({ name: 'Ops', slug: slug(), currency: 'EUR' });
        expect(res.status).toBe(201);
      } finally {
        await opCtx.close();
      }
    });
  });

  describe('POST /v1/stores/{store_id}/products', () => {
    it('creates a product with its variants, prices and stock', async () => {
      const res = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({
          name: 'Trail Jacket',
          description: 'Waterproof',
          base_price_cents: 10_000,
          category: 'Outdoor',
          attributes: { material: 'nylon', weight_g: 450, recycled: true },
          images: ['https://cdn.example.com/jacket.jpg'],
          variants: [
            { sku: 'JKT-S', attributes: { size: 'S' }, inventory_count: 3 },
            { sku: 'JKT-XL', attributes: { size: 'XL' }, price_modifier_cents: 1_500, inventory_count: 0, hot: true },
          ],
        });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        store_id: storeId,
        name: 'Trail Jacket',
        description: 'Waterproof',
        base_price_cents: 10_000,
        currency: 'USD',
        category: 'outdoor',
        attributes: { material: 'nylon', weight_g: 450, recycled: true },
        images: ['https://cdn.example.com/jacket.jpg'],
        status: 'active',
        in_stock: true,
      });
      const bySku = Object.fromEntries((res.body.variants as Array<{ sku: string }>).map((v) => [v.sku, v]));
      expect(bySku['JKT-S']).toMatchObject({ attributes: { size: 'S' }, price_modifier_cents: 0, price_cents: 10_000, hot: false, in_stock: true, available: 3 });
      expect(bySku['JKT-XL']).toMatchObject({ attributes: { size: 'XL' }, price_modifier_cents: 1_500, price_cents: 11_500, hot: true, in_stock: false, available: 0 });

      const stock = await ctx.deps.db('inventory').where({ store_id: storeId }).whereIn('variant_id', res.body.variants.map((v: { id: string }) => v.id)).select('total_stock', 'reserved', 'sold');
      expect(stock.map((r) => r.total_stock).sort()).toEqual([0, 3]);
      expect(stock.every((r) => r.reserved === 0 && r.sold === 0)).toBe(true);
    });

    it('makes one default variant, sku derived from the name, stock from inventory_count', async () => {
      const res = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({ name: 'Café Mug!', description: '', base_price_cents: 1_200, inventory_count: 7 });
      expect(res.status).toBe(201);
      expect(res.body.variants).toHaveLength(1);
      expect(res.body.variants[0]).toMatchObject({ sku: expect.stringMatching(/^CAFE-MUG-[0-9A-F]{8}$/), price_cents: 1_200, available: 7, in_stock: true });
      expect(res.body.variants[0].sku).toBe(`CAFE-MUG-${(res.body.id as string).slice(0, 8).toUpperCase()}`);

      const none = await ctx.http.post(`/v1/stores/${storeId}/products`).set('Authorization', merchant.auth).send({ name: 'Poster', description: 'A3', base_price_cents: 900 });
      expect(none.status).toBe(201);
      expect(none.body.variants[0]).toMatchObject({ available: 0, in_stock: false });
      expect(none.body.in_stock).toBe(false);
    });

    it('answers 409 sku_taken for a sku already in the store, and writes nothing', async () => {
      const first = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({ name: 'Cap', description: '', base_price_cents: 2_000, variants: [{ sku: 'CAP-1', attributes: {}, inventory_count: 1 }] });
      expect(first.status).toBe(201);
      const res = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({
          name: 'Other cap',
          description: '',
          base_price_cents: 2_000,
          variants: [
            { sku: 'CAP-2', attributes: {}, inventory_count: 1 },
            { sku: 'CAP-1', attributes: {}, inventory_count: 1 },
          ],
        });
      expectProblem(res, 409, 'sku_taken');
      expect(await ctx.deps.db('products').where({ store_id: storeId, name: 'Other cap' }).first()).toBeUndefined();
      expect(await ctx.deps.db('variants').where({ store_id: storeId, sku: 'CAP-2' }).first()).toBeUndefined();
    });

    it('allows the same sku in another store', async () => {
      const other = await makeUser(ctx.deps, { role: 'merchant' });
      const store = (await createStore(other)).body.id as string;
      const res = await ctx.http
        .post(`/v1/stores/${store}/products`)
        .set('Authorization', other.auth)
        .send({ name: 'Cap', description: '', base_price_cents: 2_000, variants: [{ sku: 'CAP-1', attributes: {}, inventory_count: 1 }] });
      expect(res.status).toBe(201);
    });

    it('refuses a variant whose final price is not above 0 (422) and duplicate skus in one request (400)', async () => {
      const free = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({ name: 'Freebie', description: '', base_price_cents: 500, variants: [{ sku: 'FREE-1', attributes: {}, price_modifier_cents: -500, inventory_count: 1 }] });
      expectProblem(free, 422, 'invalid_variant_price');
      expect(await ctx.deps.db('products').where({ store_id: storeId, name: 'Freebie' }).first()).toBeUndefined();

      const dup = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({
          name: 'Dup',
          description: '',
          base_price_cents: 500,
          variants: [
            { sku: 'DUP', attributes: {}, inventory_count: 1 },
            { sku: 'DUP', attributes: {}, inventory_count: 1 },
          ],
        });
      expectProblem(dup, 400, 'validation_failed');
    });

    it('rejects bad values with 400: zero price, http images, NUL in attributes, inventory_count beside variants', async () => {
      const post = (body: Record<string, unknown>) =>
        ctx.http.post(`/v1/stores/${storeId}/products`).set('Authorization', merchant.auth).send({ name: 'X', description: '', base_price_cents: 100, ...body });
      expectProblem(await post({ base_price_cents: 0 }), 400, 'validation_failed');
      expectProblem(await post({ images: ['http://insecure.example.com/a.jpg'] }), 400, 'validation_failed');
      expectProblem(await post({ attributes: { color: 'bl\u0000ack' } }), 400, 'validation_failed');
      expectProblem(await post({ attributes: { nested: { no: 1 } } }), 400, 'validation_failed');
      expectProblem(await post({ inventory_count: 1, variants: [{ sku: 'A-1', attributes: {}, inventory_count: 1 }] }), 400, 'validation_failed');
      expectProblem(await post({ inventory_count: -1 }), 400, 'validation_failed');
      // 100 characters that lower-case to 200: over the column's limit, so a 400 rather than a database error.
      expectProblem(await post({ category: '\u0130'.repeat(100) }), 400, 'validation_failed');
    });

    it('PATCH refuses a base price that would price a variant at 0 or less (422), and changes nothing', async () => {
      const created = await ctx.http
        .post(`/v1/stores/${storeId}/products`)
        .set('Authorization', merchant.auth)
        .send({ name: 'Discounted', description: '', base_price_cents: 1_000, variants: [{ sku: 'DISC-1', attributes: {}, price_modifier_cents: -600, inventory_count: 1 }] });
      expect(created.status).toBe(201);
      const res = await ctx.http.patch(`/v1/stores/${storeId}/products/${created.body.id}`).set('Authorization', merchant.auth).send({ base_price_cents: 600 });
      expectProblem(res, 422, 'invalid_variant_price');
      expect((await ctx.deps.db('products').where({ id: created.body.id }).first('base_price_cents')).base_price_cents).toBe(1_000);
      const ok = await ctx.http.patch(`/v1/stores/${storeId}/products/${created.body.id}`).set('Authorization', merchant.auth).send({ base_price_cents: 601 });
      expect(ok.status).toBe(200);
      expect(ok.body.variants[0].price_cents).toBe(1);
    });

    it('PATCH with no field is 400', async () => {
      const created = await ctx.http.post(`/v1/stores/${storeId}/products`).set('Authorization', merchant.auth).send({ name: 'Empty patch', base_price_cents: 100 });
      expectProblem(await ctx.http.patch(`/v1/stores/${storeId}/products/${created.body.id}`).set('Authorization', merchant.auth).send({}), 400, 'validation_failed');
    });
  });

  describe('tenant isolation', () => {
    let a: TestUser;
    let b: TestUser;
    let storeA: string;
    let storeB: string;
    let draftB: { id: string; variants: { id: string }[] };
    let activeB: { id: string; variants: { id: string }[] };

    beforeAll(async () => {
      a = await makeUser(ctx.deps, { role: 'merchant' });
      b = await makeUser(ctx.deps, { role: 'merchant' });
      storeA = (await createStore(a)).body.id;
      storeB = (await createStore(b)).body.id;
      const post = (status: string) =>
        ctx.http.post(`/v1/stores/${storeB}/products`).set('Authorization', b.auth).send({ name: `B ${status}`, description: '', base_price_cents: 1_000, status, inventory_count: 5 });
      draftB = (await post('draft')).body;
      activeB = (await post('active')).body;
    });

    it("hides B's draft from A, from guests, and from A's list (404), but shows it to B", async () => {
      expectProblem(await ctx.http.get(`/v1/stores/${storeB}/products/${draftB.id}`).set('Authorization', a.auth), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/${storeB}/products/${draftB.id}`), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/${storeB}/products?status=draft`).set('Authorization', a.auth), 404, 'not_found');
      const publicList = await ctx.http.get(`/v1/stores/${storeB}/products`);
      expect(publicList.body.data.map((p: { id: string }) => p.id)).toEqual([activeB.id]);

      expect((await ctx.http.get(`/v1/stores/${storeB}/products/${draftB.id}`).set('Authorization', b.auth)).status).toBe(200);
      const drafts = await ctx.http.get(`/v1/stores/${storeB}/products?status=draft`).set('Authorization', b.auth);
      expect(drafts.body.data.map((p: { id: string }) => p.id)).toEqual([draftB.id]);
    });

    it("answers 404 when A changes B's products, stock or catalog, and changes nothing", async () => {
      expectProblem(
        await ctx.http.patch(`/v1/stores/${storeB}/products/${activeB.id}`).set('Authorization', a.auth).send({ name: 'hijacked' }),
        404,
        'not_found',
      );
      expectProblem(await ctx.http.put(`/v1/stores/${storeB}/inventory/${activeB.variants[0]!.id}`).set('Authorization', a.auth).send({ total_stock: 0 }), 404, 'not_found');
      expectProblem(
        await ctx.http.post(`/v1/stores/${storeB}/products`).set('Authorization', a.auth).send({ name: 'planted', base_price_cents: 100 }),
        404,
        'not_found',
      );
      // B's ids under A's own store path: still not found (every query is scoped to the path's store).
      expectProblem(
        await ctx.http.patch(`/v1/stores/${storeA}/products/${activeB.id}`).set('Authorization', a.auth).send({ name: 'hijacked' }),
        404,
        'not_found',
      );
      expectProblem(await ctx.http.put(`/v1/stores/${storeA}/inventory/${activeB.variants[0]!.id}`).set('Authorization', a.auth).send({ total_stock: 0 }), 404, 'not_found');

      expect(await ctx.deps.db('products').where({ id: activeB.id }).first('name')).toEqual({ name: 'B active' });
      expect(await ctx.deps.db('inventory').where({ variant_id: activeB.variants[0]!.id }).first('total_stock')).toEqual({ total_stock: 5 });
      expect(await ctx.deps.db('products').where({ name: 'planted' }).first()).toBeUndefined();
    });

    it("answers 404 for store B's product under store A's path, even once it is cached", async () => {
      expect((await ctx.http.get(`/v1/stores/${storeB}/products/${activeB.id}`)).status).toBe(200); // now cached
      expectProblem(await ctx.http.get(`/v1/stores/${storeA}/products/${activeB.id}`), 404, 'not_found');
    });

    it('answers 404 for unknown stores and products', async () => {
      expectProblem(await ctx.http.get(`/v1/stores/${randomUUID()}/products`), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/${storeB}/products/${randomUUID()}`), 404, 'not_found');
      expectProblem(await ctx.http.put(`/v1/stores/${storeB}/inventory/${randomUUID()}`).set('Authorization', b.auth).send({ total_stock: 1 }), 404, 'not_found');
    });

    it('keeps backers and creators out of write routes (403) before looking anything up', async () => {
      const backer = await makeUser(ctx.deps, { role: 'backer' });
      expectProblem(await ctx.http.patch(`/v1/stores/${storeB}/products/${activeB.id}`).set('Authorization', backer.auth).send({ name: 'x' }), 403, 'forbidden');
    });
  });
});
