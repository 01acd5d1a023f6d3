import { randomUUID } from 'node:crypto';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { ifNoneMatchMatches, parseIfNoneMatch, strongEtag } from '../../src/api/http/etag';

describe('If-None-Match parsing (RFC 9110 §13.1.2)', () => {
  it('reads *, lists (with empty elements and weak tags) and rejects malformed fields', () => {
    expect(parseIfNoneMatch(undefined)).toBeUndefined();
    expect(parseIfNoneMatch(' * ')).toBe('*');
    expect(parseIfNoneMatch('"a"')).toEqual(['a']);
    expect(parseIfNoneMatch('W/"a" , "b,c",, "" ')).toEqual(['a', 'b,c', '']);
    for (const bad of ['', 'abc', '"a', 'a"', '"a" "b"', '"a", b', 'w/"a"', '*, "a"', '"a"b']) expect(parseIfNoneMatch(bad)).toBeUndefined();
  });

  it('compares weakly: W/"x" matches the strong "x"', () => {
    const tag = strongEtag('{"x":1}');
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(ifNoneMatchMatches(tag, tag)).toBe(true);
    expect(ifNoneMatchMatches(`W/${tag}`, tag)).toBe(true);
    expect(ifNoneMatchMatches('"other"', tag)).toBe(false);
    expect(ifNoneMatchMatches(`${tag} junk`, tag)).toBe(false);
  });
});

/** GET product (and the product list) answer with a strong ETag of the exact body and honour If-None-Match. */
describe('product ETags', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;

  async function newProduct(inventory: number): Promise<{ id: string; variantId: string }> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Kettle ${randomUUID().slice(0, 6)}`, base_price_cents: 2_500, inventory_count: inventory });
    expect(res.status).toBe(201);
    return { id: res.body.id, variantId: res.body.variants[0].id };
  }

  const get = (productId: string, query = '') => ctx.http.get(`/v1/stores/${storeId}/products/${productId}${query}`);
  const restock = (variantId: string, total: number) =>
    ctx.http.put(`/v1/stores/${storeId}/inventory/${variantId}`).set('Authorization', owner.auth).send({ total_stock: total });

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    const res = await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Etags', slug: `e-${randomUUID().slice(0, 8)}`, currency: 'EUR' });
    expect(res.status).toBe(201);
    storeId = res.body.id;
  });
  afterAll(() => ctx.close());

  it('a read carries a strong ETag of its body; the same read with If-None-Match is 304 without a body', async () => {
    const p = await newProduct(2);
    const first = await get(p.id);
    expect(first.status).toBe(200);
    expect(first.headers['etag']).toBe(strongEtag(first.text));
    expect(first.headers['cache-control']).toBe('private, no-cache');
    expect(first.headers['vary']).toMatch(/Authorization/);
    expect(first.headers['content-type']).toMatch(/^application\/json/);
    expect(first.body.id).toBe(p.id);
    // A warm (cached) read is byte-identical, so it has the same tag.
    expect((await get(p.id)).headers['etag']).toBe(first.headers['etag']);

    const again = await get(p.id).set('If-None-Match', first.headers['etag']!);
    expect(again.status).toBe(304);
    expect(again.text).toBeFalsy();
    expect(again.headers['etag']).toBe(first.headers['etag']);
    expect(again.headers['cache-control']).toBe('private, no-cache');
  });

  it('a restock changes the tag: the old tag gets 200 with the new body', async () => {
    const p = await newProduct(0);
    const before = await get(p.id);
    expect(before.body.in_stock).toBe(false);
    const inventoryBefore = await get(p.id, '?include_inventory=true');
    expect(inventoryBefore.headers['etag']).not.toBe(before.headers['etag']);

    expect((await restock(p.variantId, 3)).status).toBe(200);
    const after = await get(p.id).set('If-None-Match', before.headers['etag']!);
    expect(after.status).toBe(200);
    expect(after.body.in_stock).toBe(true);
    expect(after.headers['etag']).not.toBe(before.headers['etag']);
    expect(after.headers['etag']).toBe(strongEtag(after.text));

    // Live stock counts even when in_stock does not flip.
    expect((await restock(p.variantId, 5)).status).toBe(200);
    const moreStock = await get(p.id, '?include_inventory=true').set('If-None-Match', inventoryBefore.headers['etag']!);
    expect(moreStock.status).toBe(200);
    expect(moreStock.body.variants[0].available).toBe(5);
    expect((await get(p.id, '?include_inventory=true').set('If-None-Match', moreStock.headers['etag']!)).status).toBe(304);
  });

  it('a price change changes the tag', async () => {
    const p = await newProduct(1);
    const before = await get(p.id);
    const patched = await ctx.http.patch(`/v1/stores/${storeId}/products/${p.id}`).set('Authorization', owner.auth).send({ base_price_cents: 2_600 });
    expect(patched.status).toBe(200);
    const after = await get(p.id).set('If-None-Match', before.headers['etag']!);
    expect(after.status).toBe(200);
    expect(after.body.base_price_cents).toBe(2_600);
    expect(after.headers['etag']).not.toBe(before.headers['etag']);
  });

  it('If-None-Match: * and a list naming the tag (weakly or not) answer 304', async () => {
    const p = await newProduct(1);
    const tag = (await get(p.id)).headers['etag']!;
    for (const field of ['*', `"nope", ${tag}`, `W/"x",,W/${tag}`]) {
      const res = await get(p.id).set('If-None-Match', field);
      expect({ field, status: res.status, text: res.text }).toEqual({ field, status: 304, text: '' });
    }
    expect((await get(p.id).set('If-None-Match', '"nope", W/"other"')).status).toBe(200);
  });

  it('a malformed If-None-Match is ignored (200 with the body)', async () => {
    const p = await newProduct(1);
    const tag = (await get(p.id)).headers['etag']!;
    for (const field of [tag.slice(1, -1), `${tag} junk`, `${tag}, unquoted`, '"unterminated']) {
      const res = await get(p.id).set('If-None-Match', field);
      expect({ field, status: res.status }).toEqual({ field, status: 200 });
      expect(res.body.id).toBe(p.id);
    }
  });

  it('a 404 ignores If-None-Match: * (only a 200 is tagged here and can become a 304)', async () => {
    const res = await get(randomUUID()).set('If-None-Match', '*');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ status: 404 });
    expect(res.headers['cache-control']).toBeUndefined();
  });

  it('the product list is tagged too, and a new product changes its tag', async () => {
    await newProduct(1);
    const list = () => ctx.http.get(`/v1/stores/${storeId}/products`);
    const first = await list();
    expect(first.status).toBe(200);
    expect(first.headers['etag']).toBe(strongEtag(first.text));
    expect((await list().set('If-None-Match', first.headers['etag']!)).status).toBe(304);
    await newProduct(1);
    const after = await list().set('If-None-Match', first.headers['etag']!);
    expect(after.status).toBe(200);
    expect(after.headers['etag']).not.toBe(first.headers['etag']);
  });

  it('the OpenAPI document describes If-None-Match, the ETag header and the 304', async () => {
    const doc = (await ctx.http.get('/openapi.json')).body;
    for (const [path, op] of [
      ['/v1/stores/{store_id}/products/{product_id}', 'get'],
      ['/v1/stores/{store_id}/products', 'get'],
    ] as const) {
      const operation = doc.paths[path][op];
      expect(operation.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'if-none-match', required: false })]));
      expect(operation.responses['200'].headers).toMatchObject({ ETag: expect.any(Object), 'Cache-Control': expect.any(Object) });
      expect(operation.responses['304']).toMatchObject({ description: expect.stringMatching(/Not Modified/), headers: { ETag: expect.any(Object) } });
      expect(operation.responses['304'].content).toBeUndefined();
    }
  });
});
