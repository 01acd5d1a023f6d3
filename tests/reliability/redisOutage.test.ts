import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { startOwnedRedis, type OwnedRedis } from '../helpers/ownedRedis';
import { eventually } from '../helpers/wait';
import { createStore, createVariant } from '../commerce/fixtures';

/**
 * Redis dies under a running API (a redis-server of the test's own): what needs it (carts) answers 503
 * `dependency_unavailable` naming redis, with Retry-After; what can be served without it (the catalog, from
 * Postgres) still is; when Redis is back the API uses it again without a restart.
 */
let redis: OwnedRedis;
let ctx: TestContext;
let merchant: TestUser;
let storeId: string;
let productId: string;

beforeAll(async () => {
  redis = await startOwnedRedis();
  ctx = createTestContext(testConfig({ REDIS_URL: redis.url() }));
  merchant = await makeUser(ctx.deps, { role: 'merchant' });
  storeId = await createStore(ctx, merchant, 'Outage shop');
  const variantId = await createVariant(ctx, merchant, storeId, 5);
  productId = (await ctx.deps.db('variants').where({ id: variantId }).first('product_id')).product_id;
}, 60_000);
afterAll(async () => {
  await ctx?.close();
  await redis?.destroy();
});

it('answers 503 for carts and still serves the catalog while Redis is down, then heals', async () => {
  expect((await ctx.http.post('/v1/carts').send({ store_id: storeId })).status).toBe(201);

  await redis.kill();
  const cart = await ctx.http.post('/v1/carts').send({ store_id: storeId });
  expect(cart.status).toBe(503);
  expect(cart.headers['retry-after']).toMatch(/^\d+$/);
  expect(cart.body).toMatchObject({ code: 'dependency_unavailable', dependency: 'redis' });

  const product = await ctx.http.get(`/v1/stores/${storeId}/products/${productId}`);
  expect(product.status).toBe(200);
  expect(product.body.id).toBe(productId);

  await redis.start();
  await eventually(async () => (await ctx.http.post('/v1/carts').send({ store_id: storeId })).status === 201, 15_000, 'carts working again');
});
