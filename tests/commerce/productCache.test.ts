import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import { createApp } from '../../src/api/app';
import type { AppDeps } from '../../src/api/deps';
import type { Logger } from '../../src/logger';
import type { RedisClient } from '../../src/infra/redis';
import { closeDeps, createTestContext, createTestDeps, testConfig, type TestContext } from '../helpers/context';
import { bearer, makeUser, type TestUser } from '../helpers/fixtures';
import { invalidateProduct, ProductCache, productCacheKey, type ProductCacheResult } from '../../src/commerce/productCache';
import { Metrics } from '../../src/infra/metrics';
import { eventually } from '../helpers/wait';
import { LiveStock } from '../../src/commerce/liveStock';

/** product_cache_requests_total by result, as GET /metrics shows it (the prom-client text format). */
async function cacheCounts(http: supertest.Agent): Promise<Record<ProductCacheResult, number>> {
  const res = await http.get('/metrics');
  expect(res.status).toBe(200);
  const count = (result: ProductCacheResult) => {
    const m = res.text.match(new RegExp(`^product_cache_requests_total\\{result="${result}"\\} (\\d+)$`, 'm'));
    if (!m) throw new Error(`product_cache_requests_total{result="${result}"} is not on /metrics`);
    return Number(m[1]);
  };
  return { hit: count('hit'), miss: count('miss'), unavailable: count('unavailable') };
}

/** product_cache_memory_requests_total by result (the in-process layer). */
async function memoryCounts(http: supertest.Agent): Promise<Record<'hit' | 'miss' | 'off', number>> {
  const text = (await http.get('/metrics')).text;
  const count = (result: string) => Number(text.match(new RegExp(`^product_cache_memory_requests_total\\{result="${result}"\\} (\\d+)$`, 'm'))?.[1] ?? NaN);
  return { hit: count('hit'), miss: count('miss'), off: count('off') };
}

/** Reads until one is a hit of the in-process layer (it is on once the app's subscription is confirmed). */
async function servedFromMemory(http: supertest.Agent, read: () => Promise<unknown>): Promise<void> {
  await eventually(
    async () => {
      const before = (await memoryCounts(http)).hit;
      await read();
      return (await memoryCounts(http)).hit === before + 1;
    },
    5_000,
    'a read served from the process',
  );
}

/**
 * GET product is cache-aside in process (LRU) and in Redis; every write invalidates both, in every process
 * (pub/sub); Redis trouble falls back to Postgres.
 */
describe('product cache', () => {
  let ctx: TestContext;
  let owner: TestUser;
  let storeId: string;

  async function newProduct(inventory = 2): Promise<{ id: string; variantId: string }> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Lamp ${randomUUID().slice(0, 6)}`, description: 'v1', base_price_cents: 1_000, inventory_count: inventory });
    expect(res.status).toBe(201);
    return { id: res.body.id, variantId: res.body.variants[0].id };
  }

  const get = (productId: string, query = '') => ctx.http.get(`/v1/stores/${storeId}/products/${productId}${query}`);

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    const res = await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Cache', slug: `c-${randomUUID().slice(0, 8)}`, currency: 'EUR' });
    storeId = res.body.id;
  });
  afterAll(() => ctx.close());

  it('a read fills the product key, with a TTL, and without stock figures', async () => {
    const p = await newProduct();
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).toBeNull();
    expect((await get(p.id)).status).toBe(200);
    const cached = JSON.parse((await ctx.deps.redis.get(productCacheKey(p.id)))!);
    expect(cached.product).toMatchObject({ id: p.id, name: expect.stringMatching(/^Lamp /), currency: 'EUR' });
    expect(JSON.stringify(cached)).not.toMatch(/available|in_stock|total_stock/);
    const ttl = await ctx.deps.redis.ttl(productCacheKey(p.id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it('counts a cold read as a miss and a warm read as a hit on /metrics', async () => {
    const p = await newProduct();
    const before = await cacheCounts(ctx.http);
    expect((await get(p.id)).status).toBe(200);
    const cold = await cacheCounts(ctx.http);
    expect(cold).toEqual({ ...before, miss: before.miss + 1 });
    expect((await get(p.id)).status).toBe(200);
    expect(await cacheCounts(ctx.http)).toEqual({ ...cold, hit: cold.hit + 1 });
    // An invalidating write makes the next read a miss again.
    await ctx.http.patch(`/v1/stores/${storeId}/products/${p.id}`).set('Authorization', owner.auth).send({ description: 'v2' });
    expect((await get(p.id)).body.description).toBe('v2');
    expect(await cacheCounts(ctx.http)).toEqual({ ...cold, hit: cold.hit + 1, miss: cold.miss + 1 });
  });

  it('counts a garbled entry as a miss, not a hit', async () => {
    const p = await newProduct();
    await ctx.deps.redis.set(productCacheKey(p.id), '{not json');
    const before = await cacheCounts(ctx.http);
    expect((await get(p.id)).status).toBe(200);
    expect(await cacheCounts(ctx.http)).toEqual({ ...before, miss: before.miss + 1 });
  });

  it('serves reads from the cache (a change made behind the API stays unseen until invalidated)', async () => {
    const p = await newProduct();
    await get(p.id);
    await ctx.deps.db('products').where({ id: p.id }).update({ description: 'changed behind the cache' });
    expect((await get(p.id)).body.description).toBe('v1');
  });

  it('a PATCH invalidates: the next read shows the change', async () => {
    const p = await newProduct();
    expect((await get(p.id)).body.base_price_cents).toBe(1_000);
    const patch = await ctx.http
      .patch(`/v1/stores/${storeId}/products/${p.id}`)
      .set('Authorization', owner.auth)
      .send({ description: 'v2', base_price_cents: 1_250, category: 'Lighting' });
    expect(patch.status).toBe(200);
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).toBeNull();
    const after = await get(p.id);
    expect(after.body).toMatchObject({ description: 'v2', base_price_cents: 1_250, category: 'lighting' });
    expect(after.body.variants[0].price_cents).toBe(1_250);
  });

  it('a status change to draft takes the product off public reads at once', async () => {
    const p = await newProduct();
    expect((await get(p.id)).status).toBe(200);
    await ctx.http.patch(`/v1/stores/${storeId}/products/${p.id}`).set('Authorization', owner.auth).send({ status: 'draft' });
    expect((await get(p.id)).status).toBe(404);
  });

  it('a restock invalidates, and in_stock / available follow it', async () => {
    const p = await newProduct(0);
    const before = await get(p.id, '?include_inventory=true');
    expect(before.body).toMatchObject({ in_stock: false, variants: [{ in_stock: false, available: 0 }] });
    const put = await ctx.http.put(`/v1/stores/${storeId}/inventory/${p.variantId}`).set('Authorization', owner.auth).send({ total_stock: 4 });
    expect(put.status).toBe(200);
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).toBeNull();
    const after = await get(p.id, '?include_inventory=true');
    expect(after.body).toMatchObject({ in_stock: true, variants: [{ in_stock: true, available: 4 }] });
  });

  it('stock is live even on a cache hit (reservations will not have to invalidate)', async () => {
    const p = await newProduct(1);
    expect((await get(p.id)).body.in_stock).toBe(true);
    await ctx.deps.db('inventory').where({ variant_id: p.variantId }).update({ reserved: 1 });
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).not.toBeNull();
    const res = await get(p.id, '?include_inventory=true');
    expect(res.body).toMatchObject({ in_stock: false, variants: [{ available: 0, in_stock: false }] });
  });

  it('a deleted or garbled key is simply a miss: the answer is still correct and the key is refilled', async () => {
    const p = await newProduct();
    await get(p.id);
    await ctx.deps.db('products').where({ id: p.id }).update({ name: 'Renamed in Postgres' });
    // The key deleted from outside the API, with the eviction every process listens to (a bare DEL leaves the
    // in-process copies to their TTL).
    await invalidateProduct(ctx.deps.redis, p.id);
    await eventually(async () => (await get(p.id)).body.name === 'Renamed in Postgres', 5_000, 'the eviction to reach the app');
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).not.toBeNull();

    await ctx.deps.redis.set(productCacheKey(p.id), '{not json');
    await ctx.deps.redis.publish('catalog:v1:invalidations', p.id);
    await eventually(async () => (await get(p.id)).status === 200 && (await ctx.deps.redis.get(productCacheKey(p.id))) !== '{not json', 5_000, 'the garbled key to be refilled');
    const res = await get(p.id);
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('Renamed in Postgres');
  });

  it('a second read is served from the process itself, without asking Redis', async () => {
    const p = await newProduct();
    await servedFromMemory(ctx.http, () => get(p.id));
    const before = { redis: await cacheCounts(ctx.http), memory: await memoryCounts(ctx.http) };
    // Redis emptied behind the API (no eviction published): the in-process copy still answers.
    await ctx.deps.redis.del(productCacheKey(p.id));
    expect((await get(p.id)).status).toBe(200);
    expect(await memoryCounts(ctx.http)).toEqual({ ...before.memory, hit: before.memory.hit + 1 });
    expect(await cacheCounts(ctx.http)).toEqual({ ...before.redis, hit: before.redis.hit + 1 });
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).toBeNull();
  });

  it('a write through one API process evicts the copy held by another (pub/sub)', async () => {
    const other = createTestContext(testConfig());
    try {
      const p = await newProduct();
      const read = () => other.http.get(`/v1/stores/${storeId}/products/${p.id}`);
      expect((await read()).body.description).toBe('v1');
      // The other process now answers from its own memory...
      await servedFromMemory(other.http, read);
      // ...until a PATCH through this one publishes the eviction.
      const patch = await ctx.http.patch(`/v1/stores/${storeId}/products/${p.id}`).set('Authorization', owner.auth).send({ description: 'v2' });
      expect(patch.status).toBe(200);
      await eventually(async () => (await read()).body.description === 'v2', 5_000, 'the other process to see the change');
    } finally {
      await other.close();
    }
  });

  it('a read racing a write cannot store the version it loaded before the write (generation check)', async () => {
    const p = await newProduct();
    const cache = new ProductCache(ctx.deps.redis, ctx.deps.logger, new Metrics());
    // The reader misses, then a writer commits and invalidates while the reader is still loading the old row.
    const stale = await cache.getOrLoad(p.id, async () => {
      await cache.invalidate(p.id);
      return { stale: true };
    });
    expect(stale).toEqual({ stale: true });
    expect(await ctx.deps.redis.get(productCacheKey(p.id))).toBeNull();
    // Without a concurrent write the same read does fill the key.
    await cache.getOrLoad(p.id, async () => ({ fresh: true }));
    expect(JSON.parse((await ctx.deps.redis.get(productCacheKey(p.id)))!)).toEqual({ fresh: true });
  });

  it('live stock: reads that arrive together share one query, and each sees only its own store', async () => {
    const a = await newProduct(3);
    const b = await newProduct(0);
    const otherOwner = await makeUser(ctx.deps, { role: 'merchant' });
    const otherStore = await ctx.http.post('/v1/stores').set('Authorization', otherOwner.auth).send({ name: 'Other', slug: `o-${randomUUID().slice(0, 8)}`, currency: 'EUR' });
    const foreign = await ctx.http.post(`/v1/stores/${otherStore.body.id}/products`).set('Authorization', otherOwner.auth).send({ name: 'Foreign', base_price_cents: 500, inventory_count: 7 });
    const foreignVariant = foreign.body.variants[0].id as string;

    const stock = new LiveStock(ctx.deps.db);
    let queries = 0;
    const count = () => (queries += 1);
    ctx.deps.db.on('query', count);
    try {
      const [mine, theirs, none] = await Promise.all([
        // A variant id of another store is absent from this store's answer (tenancy), not its units.
        stock.available(storeId, [a.variantId, b.variantId, foreignVariant]),
        stock.available(otherStore.body.id, [foreignVariant]),
        stock.available(storeId, []),
      ]);
      expect(Object.fromEntries(mine)).toEqual({ [a.variantId]: 3, [b.variantId]: 0 });
      expect(Object.fromEntries(theirs)).toEqual({ [foreignVariant]: 7 });
      expect(none.size).toBe(0);
      expect(queries).toBe(1);
      // A read after a change sees it: a batch's query is sent after its reads arrived.
      await ctx.deps.db('inventory').where({ variant_id: a.variantId }).update({ reserved: 2 });
      expect((await stock.available(storeId, [a.variantId])).get(a.variantId)).toBe(1);
    } finally {
      ctx.deps.db.off('query', count);
    }
  });

  describe('with Redis down', () => {
    let down: { deps: AppDeps; http: supertest.Agent };

    beforeAll(() => {
      // A client that was closed on purpose: every Redis command fails at once ("Connection is closed").
      const deps = createTestDeps(testConfig());
      deps.redis.disconnect();
      down = { deps, http: supertest.agent(createApp(deps)) };
    });
    afterAll(() => closeDeps(down.deps));

    it('reads, writes and restocks still answer correctly from Postgres (never a 500)', async () => {
      const p = await newProduct(0);
      // Each test config has its own JWT secret: the owner's token for this app comes from its config.
      const auth = bearer(down.deps, owner.id);
      const before = await cacheCounts(down.http);
      const read = await down.http.get(`/v1/stores/${storeId}/products/${p.id}?include_inventory=true`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: p.id, in_stock: false });

      const patch = await down.http.patch(`/v1/stores/${storeId}/products/${p.id}`).set('Authorization', auth).send({ name: 'Offline edit' });
      expect(patch.status).toBe(200);
      const put = await down.http.put(`/v1/stores/${storeId}/inventory/${p.variantId}`).set('Authorization', auth).send({ total_stock: 2 });
      expect(put.status).toBe(200);

      const after = await down.http.get(`/v1/stores/${storeId}/products/${p.id}?include_inventory=true`);
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ name: 'Offline edit', in_stock: true, variants: [{ available: 2 }] });
      // Nothing went through Redis: the client is closed, and the (real) Redis holds no entry for the product.
      expect(down.deps.redis.status).toBe('end');
      expect(await ctx.deps.redis.get(productCacheKey(p.id))).toBeNull();
      // Neither read is a hit or a miss: an outage must not look like a cold cache.
      expect(await cacheCounts(down.http)).toEqual({ ...before, unavailable: before.unavailable + 2 });
    });
  });

  it('treats a Redis that does not answer as down: the read comes from the loader within the timeout', async () => {
    const hanging = new Promise<never>(() => undefined);
    const silentRedis = { mget: () => hanging, eval: () => hanging, multi: () => ({ incr: () => ({ expire: () => ({ del: () => ({ exec: () => hanging }) }) }) }) };
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => warnings.push(m), error: (_o: unknown, m: string) => warnings.push(m) } as unknown as Logger;
    const metrics = new Metrics();
    const cache = new ProductCache(silentRedis as unknown as RedisClient, logger, metrics, { memory: false });
    const started = Date.now();
    expect(await cache.getOrLoad('p1', async () => ({ from: 'postgres' }))).toEqual({ from: 'postgres' });
    await cache.invalidate('p1');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(warnings).toEqual(['product cache unavailable; reading Postgres', expect.stringMatching(/not invalidated/)]);
    expect(await metrics.registry.metrics()).toMatch(/^product_cache_requests_total\{result="unavailable"\} 1$/m);
  });
});
