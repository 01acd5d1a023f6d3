import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';

/** GET /v1/stores/{store_id}/products: typo-tolerant search, filters, store scoping and keyset pages. */
describe('product search', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;
  let otherStoreId: string;

  async function makeStore(user: TestUser): Promise<string> {
    const res = await ctx.http.post('/v1/stores').set('Authorization', user.auth).send({ name: 'S', slug: `s-${randomUUID().slice(0, 8)}`, currency: 'USD' });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function product(store: string, user: TestUser, body: Record<string, unknown>): Promise<string> {
    const res = await ctx.http.post(`/v1/stores/${store}/products`).set('Authorization', user.auth).send({ description: '', inventory_count: 1, ...body });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const names = (res: { body: { data: { name: string }[] } }) => res.body.data.map((p) => p.name);
  const list = (query: string, store = storeId) => ctx.http.get(`/v1/stores/${store}/products?${query}`);

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    const other = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = await makeStore(owner);
    otherStoreId = await makeStore(other);
    await product(storeId, owner, { name: 'Wireless Headphones', category: 'audio', base_price_cents: 15_000, description: 'Noise cancelling over-ear' });
    await product(storeId, owner, { name: 'Studio Monitor Speakers', category: 'audio', base_price_cents: 40_000 });
    await product(storeId, owner, { name: 'Desk Lamp', category: 'home', base_price_cents: 3_000, description: 'Warm light' });
    await product(storeId, owner, { name: 'Budget Earbuds', category: 'audio', base_price_cents: 2_000 });
    await product(storeId, owner, { name: 'Headphone Stand', category: 'home', base_price_cents: 2_500, status: 'draft' });
    // The other store has a product that matches every query below: it must never show up.
    await product(otherStoreId, other, { name: 'Headphones Deluxe', category: 'audio', base_price_cents: 9_000 });
  });
  afterAll(() => ctx.close());

  it('tolerates typos: "hedphones" finds "Wireless Headphones"', async () => {
    const res = await list('q=hedphones');
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(['Wireless Headphones']);
  });

  it('finds by full text in the description too, and ranks the best match first', async () => {
    expect(names(await list('q=noise%20cancelling'))).toEqual(['Wireless Headphones']);
    const res = await list('q=speakers');
    expect(names(res)[0]).toBe('Studio Monitor Speakers');
  });

  it('never returns another store\'s product, nor drafts on the public list', async () => {
    const res = await list('q=headphones');
    expect(names(res)).toEqual(['Wireless Headphones']);
    expect(names(await list('q=headphones', otherStoreId))).toEqual(['Headphones Deluxe']);
  });

  it('filters by category (case-insensitive) and base price range', async () => {
    expect(names(await list('category=Audio')).sort()).toEqual(['Budget Earbuds', 'Studio Monitor Speakers', 'Wireless Headphones']);
    expect(names(await list('category=audio&min_price_cents=10000&max_price_cents=20000'))).toEqual(['Wireless Headphones']);
    expect(names(await list('max_price_cents=3000')).sort()).toEqual(['Budget Earbuds', 'Desk Lamp']);
    expect(names(await list('q=lamp&category=audio'))).toEqual([]);
    expectProblem(await list('min_price_cents=500&max_price_cents=100'), 400, 'validation_failed');
  });

  it('pages newest first without skipping or repeating, then ends with next_cursor null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await list(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...names(res));
      cursor = res.body.next_cursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(2);
    expect(seen).toEqual(['Budget Earbuds', 'Desk Lamp', 'Studio Monitor Speakers', 'Wireless Headphones']);
  });

  it('pages search results by rank', async () => {
    // 'audio' matches three products by category; rank ties break by id, so pages are stable.
    const first = await list('q=audio&limit=2');
    expect(first.body.data).toHaveLength(2);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await list(`q=audio&limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.next_cursor).toBeNull();
    expect([...names(first), ...names(second)].sort()).toEqual(['Budget Earbuds', 'Studio Monitor Speakers', 'Wireless Headphones']);
  });

  it('rejects a garbled cursor, or a search cursor used on the plain list, with 400 invalid_cursor', async () => {
    expectProblem(await list('cursor=not-a-cursor'), 400, 'invalid_cursor');
    const searchCursor = (await list('q=audio&limit=1')).body.next_cursor as string;
    expectProblem(await list(`cursor=${searchCursor}`), 400, 'invalid_cursor');
  });

  it('shows drafts to the owner with status=draft; guests need a token for it', async () => {
    const res = await list('status=draft').set('Authorization', owner.auth);
    expect(names(res)).toEqual(['Headphone Stand']);
    expectProblem(await list('status=draft'), 401, 'unauthorized');
  });

  it('reports in_stock per variant and overall in the list, without available', async () => {
    const res = await list('q=earbuds');
    expect(res.body.data[0]).toMatchObject({ name: 'Budget Earbuds', in_stock: true, variants: [{ in_stock: true }] });
    expect(res.body.data[0].variants[0].available).toBeUndefined();
  });
});
