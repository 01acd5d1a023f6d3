import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { createVariant, placeOrder } from './fixtures';

/**
 * Storefront reads (API.md, "Storefront reads shoppers need"): the store list with search and keyset pages, a
 * store by id and by slug, and the caller's own orders with items and totals.
 */
describe('storefront reads', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let merchant: TestUser;

  const token = () => randomUUID().replace(/-/g, '').slice(0, 10);

  async function openStore(name: string, slug = `sf-${token()}`): Promise<{ id: string; slug: string }> {
    const res = await ctx.http.post('/v1/stores').set('Authorization', merchant.auth).send({ name, slug, currency: 'eur' });
    expect(res.status).toBe(201);
    return { id: res.body.id, slug };
  }

  /** Every page of a list, following next_cursor (bounded, so a cursor that loops fails the test). */
  async function allPages(path: string, query: Record<string, string | number>, auth?: string): Promise<Array<Array<Record<string, unknown>>>> {
    const pages: Array<Array<Record<string, unknown>>> = [];
    let cursor: string | null = null;
    do {
      const req = ctx.http.get(path).query(cursor ? { ...query, cursor } : query);
      const res = await (auth ? req.set('Authorization', auth) : req);
      expect({ status: res.status, body: res.status === 200 ? null : res.body }).toEqual({ status: 200, body: null });
      pages.push(res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor && pages.length < 1_000);
    expect(cursor).toBeNull();
    return pages;
  }

  const checkout = (shopper: TestUser, storeId: string, lines: Array<[string, number]>) => placeOrder(ctx, shopper, storeId, lines);

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    worker = await startTestWorker(ctx.deps);
    merchant = await makeUser(ctx.deps, { role: 'merchant' });
  });
  afterAll(async () => {
    await worker.stop();
    await ctx.close();
  });

  describe('GET /v1/stores', () => {
    it('finds stores by a word of their name, typo tolerant, paged by rank and id with no store skipped or repeated', async () => {
      const word = `q${token()}`;
      // Same name: same rank, so the pages are split inside a tie and only the id orders them.
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await openStore(`Kettle ${word}`)).id);
      await openStore(`Kettle ${token()}`); // a Kettle store without the word: not a match

      const pages = await allPages('/v1/stores', { q: word, limit: 2 });
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      expect(pages.flat().map((s) => s.id)).toEqual([...ids].sort());

      // One letter wrong still finds them all.
      const typo = `${word.slice(0, 4)}${word[4] === 'x' ? 'y' : 'x'}${word.slice(5)}`;
      const fuzzy = await ctx.http.get('/v1/stores').query({ q: typo, limit: 100 });
      expect(fuzzy.status).toBe(200);
      expect(fuzzy.body.data.map((s: { id: string }) => s.id).sort()).toEqual([...ids].sort());

      // Nothing like it: an empty page.
      const none = await ctx.http.get('/v1/stores').query({ q: `zz${token()}zz` });
      expect(none.body).toEqual({ data: [], next_cursor: null });
    });

    it('puts the store whose slug is the query first', async () => {
      const word = `w${token()}`;
      await openStore(`Lamps ${word}`);
      const exact = await openStore('Lamps and more', `${word}`);
      const res = await ctx.http.get('/v1/stores').query({ q: word });
      expect(res.status).toBe(200);
      expect(res.body.data[0].id).toBe(exact.id);
      expect(res.body.data).toHaveLength(2);
    });

    it('lists every store newest first, ties broken by id, across pages with no store skipped or repeated', async () => {
      const tied: string[] = [];
      for (let i = 0; i < 3; i++) tied.push((await openStore(`Tied ${token()}`)).id);
      // One timestamp for all three: pages must split inside the tie without losing or repeating one.
      await ctx.deps.db('stores').whereIn('id', tied).update({ created_at: ctx.deps.db.raw(`now() - interval '1 second'`) });

      const existing = (await ctx.deps.db('stores').pluck('id')) as string[];
      const pages = await allPages('/v1/stores', { limit: 2 });
      const listed = pages.flat();
      const ids = listed.map((s) => s.id as string);
      expect(new Set(ids).size).toBe(ids.length);
      // Stores are never deleted, so every store there was is on some page (ones opened meanwhile by other test
      // files are newer than the cursor and may be missed, never repeated).
      expect(ids).toEqual(expect.arrayContaining(existing));
      const times = listed.map((s) => Date.parse(s.created_at as string));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      expect(ids.filter((id) => tied.includes(id))).toEqual([...tied].sort().reverse());
    });

    it('refuses a cursor it did not hand out with 400, and a search cursor on the plain list', async () => {
      expectProblem(await ctx.http.get('/v1/stores').query({ cursor: 'bm90LWEtY3Vyc29y' }), 400, 'validation_failed');
      expectProblem(await ctx.http.get('/v1/stores').query({ q: 'kettle', cursor: 'bm90LWEtY3Vyc29y' }), 400, 'validation_failed');
      const word = `c${token()}`;
      for (let i = 0; i < 2; i++) await openStore(`Cursor ${word}`);
      const search = await ctx.http.get('/v1/stores').query({ q: word, limit: 1 });
      expect(search.body.next_cursor).toEqual(expect.any(String));
      expectProblem(await ctx.http.get('/v1/stores').query({ cursor: search.body.next_cursor }), 400, 'validation_failed');
      expectProblem(await ctx.http.get('/v1/stores').query({ limit: 0 }), 400, 'validation_failed');
      expectProblem(await ctx.http.get('/v1/stores').query({ q: '' }), 400, 'validation_failed');
    });
  });

  describe('GET /v1/stores/{store_id} and /v1/stores/by-slug/{slug}', () => {
    it('answers the store with its active product count, by id and by slug alike, without the owner', async () => {
      const store = await openStore('Teapots');
      await createVariant(ctx, merchant, store.id, 3);
      await createVariant(ctx, merchant, store.id, 3);
      const draft = await ctx.http
        .post(`/v1/stores/${store.id}/products`)
        .set('Authorization', merchant.auth)
        .send({ name: 'Unreleased', base_price_cents: 900, status: 'draft' });
      expect(draft.status).toBe(201);

      const byId = await ctx.http.get(`/v1/stores/${store.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual({ id: store.id, name: 'Teapots', slug: store.slug, currency: 'EUR', product_count: 2, created_at: expect.any(String) });
      const bySlug = await ctx.http.get(`/v1/stores/by-slug/${store.slug}`);
      expect(bySlug.status).toBe(200);
      expect(bySlug.body).toEqual(byId.body);
      // The list shows the same store the same way.
      const listed = await ctx.http.get('/v1/stores').query({ q: store.slug });
      expect(listed.body.data[0]).toEqual(byId.body);
    });

    it('answers 404 problem+json for an unknown id or slug', async () => {
      expectProblem(await ctx.http.get(`/v1/stores/${randomUUID()}`), 404, 'not_found');
      expectProblem(await ctx.http.get(`/v1/stores/by-slug/no-such-${token()}`), 404, 'not_found');
    });

    it('answers 400 problem+json for an id that is not a uuid or a malformed slug, never 500', async () => {
      for (const bad of ['not-a-uuid', '123', 'by-slug', `${randomUUID()}x`]) {
        expectProblem(await ctx.http.get(`/v1/stores/${bad}`), 400, 'validation_failed');
      }
      for (const bad of ['Has-Caps', 'ab', 'with%20space', 'x'.repeat(61)]) {
        expectProblem(await ctx.http.get(`/v1/stores/by-slug/${bad}`), 400, 'validation_failed');
      }
    });
  });

  describe('GET /v1/me/orders', () => {
    it("lists only the caller's orders, newest first, with items, status and totals, paged without gaps", async () => {
      const store = await openStore('Orders shop');
      const cheap = await createVariant(ctx, merchant, store.id, 50, 1_000);
      const dear = await createVariant(ctx, merchant, store.id, 50, 4_500);
      const alice = await makeUser(ctx.deps);
      const bob = await makeUser(ctx.deps);

      const placed = [
        await checkout(alice, store.id, [[cheap, 1]]),
        await checkout(bob, store.id, [[dear, 1]]),
        await checkout(alice, store.id, [[cheap, 2], [dear, 1]]),
        await checkout(alice, store.id, [[dear, 3]]),
      ];
      const alices = [placed[3]!, placed[2]!, placed[0]!];

      const pages = await allPages('/v1/me/orders', { limit: 2 }, alice.auth);
      expect(pages.map((p) => p.length)).toEqual([2, 1]);
      const listed = pages.flat() as Array<Record<string, any>>;
      expect(listed.map((o) => o.id)).toEqual(alices.map((o) => o.id));
      for (const [i, o] of listed.entries()) {
        expect(o).toMatchObject({
          store_id: store.id,
          customer_id: alice.id,
          status: 'confirmed',
          currency: 'EUR',
          total_cents: alices[i]!.total_cents,
          store: { id: store.id, name: 'Orders shop', slug: store.slug },
        });
        expect(o.total_cents).toBe(o.subtotal_cents + o.tax_cents);
        // The same items (and totals) the order itself shows.
        const full = await ctx.http.get(`/v1/orders/${o.id}`).set('Authorization', alice.auth);
        expect(full.status).toBe(200);
        expect(o.items).toEqual(full.body.items);
        expect(o.subtotal_cents).toBe(full.body.subtotal_cents);
      }
      expect(listed[0]!.items).toEqual([expect.objectContaining({ variant_id: dear, quantity: 3, unit_price_cents: 4_500, line_total_cents: 13_500 })]);
      expect(listed[1]!.items.map((i: { variant_id: string; quantity: number }) => [i.variant_id, i.quantity]).sort()).toEqual([[cheap, 2], [dear, 1]].sort());

      // Bob sees his one order and none of Alice's.
      const bobs = await ctx.http.get('/v1/me/orders').set('Authorization', bob.auth);
      expect(bobs.status).toBe(200);
      expect(bobs.body.data.map((o: { id: string }) => o.id)).toEqual([placed[1]!.id]);
      expect(bobs.body.next_cursor).toBeNull();

      // Alice's cursor given by Bob pages Bob's own list (orders older than it), never into Alice's.
      const alicesCursor = (await ctx.http.get('/v1/me/orders').set('Authorization', alice.auth).query({ limit: 1 })).body.next_cursor;
      const second = await ctx.http.get('/v1/me/orders').set('Authorization', bob.auth).query({ cursor: alicesCursor });
      expect(second.status).toBe(200);
      expect(second.body.data.map((o: { id: string }) => o.id)).toEqual([placed[1]!.id]);

      // Someone who never ordered: an empty list.
      const carol = await makeUser(ctx.deps);
      expect((await ctx.http.get('/v1/me/orders').set('Authorization', carol.auth)).body).toEqual({ data: [], next_cursor: null });
    });

    it('answers 401 signed out or with a bad token, and 400 for a bad cursor or limit', async () => {
      expectProblem(await ctx.http.get('/v1/me/orders'), 401, 'unauthorized');
      expectProblem(await ctx.http.get('/v1/me/orders').set('Authorization', 'Bearer not.a.token'), 401, 'unauthorized');
      const user = await makeUser(ctx.deps);
      expectProblem(await ctx.http.get('/v1/me/orders').set('Authorization', user.auth).query({ cursor: 'garbage' }), 400, 'validation_failed');
      expectProblem(await ctx.http.get('/v1/me/orders').set('Authorization', user.auth).query({ limit: 101 }), 400, 'validation_failed');
    });
  });

  it('describes the four reads in /openapi.json', async () => {
    const doc = (await ctx.http.get('/openapi.json')).body;
    expect(doc.paths['/v1/stores'].get.operationId).toBe('listStores');
    expect(doc.paths['/v1/stores'].post.operationId).toBe('createStore');
    expect(doc.paths['/v1/stores/{store_id}'].get.operationId).toBe('getStore');
    expect(doc.paths['/v1/stores/by-slug/{slug}'].get.operationId).toBe('getStoreBySlug');
    expect(doc.paths['/v1/me/orders'].get.operationId).toBe('listMyOrders');
    expect(doc.paths['/v1/stores/{store_id}'].get.responses['404']).toBeDefined();
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['StorefrontStore', 'StorefrontStoreList', 'MyOrder', 'MyOrderList']));
    // MyOrder extends OrderSummary (an allOf of it and the added members).
    const myOrder = doc.components.schemas.MyOrder;
    const parts = [myOrder, ...(myOrder.allOf ?? [])];
    const members = Object.assign({}, ...parts.map((p: { properties?: object }) => p.properties ?? {}));
    expect(Object.keys(members)).toEqual(expect.arrayContaining(['items', 'store']));
    expect(parts.some((p: { $ref?: string }) => p.$ref === '#/components/schemas/OrderSummary') || 'total_cents' in members).toBe(true);
  });
});
