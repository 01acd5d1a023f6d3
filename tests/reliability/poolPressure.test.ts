import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, makeUsers, bearer, type TestUser } from '../helpers/fixtures';
import { createStore, createVariant } from '../commerce/fixtures';
import { claim, createDrop, dropShop, enter, lotteryHelpers } from '../drops/fixtures';

/**
 * No request path holds a pooled connection while it waits for another: with a pool of POOL connections, each
 * write route runs with 4 × POOL requests in flight, and none answers 5xx (a path that nests acquisitions
 * deadlocks the pool at this load and answers 503 after the acquire timeout).
 */
const POOL = 3;
const IN_FLIGHT = 4 * POOL;

let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let merchant: TestUser;
let storeId: string;
const address = { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' };

beforeAll(async () => {
  // A short acquire timeout so a deadlocked pool shows as 503s within the test, not after minutes.
  ctx = createTestContext(testConfig({ DATABASE_POOL_MAX: String(POOL), DATABASE_ACQUIRE_TIMEOUT_MS: '5000' }));
  worker = await startTestWorker(ctx.deps);
  merchant = await makeUser(ctx.deps, { role: 'merchant' });
  storeId = await createStore(ctx, merchant, 'Pressure');
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await ctx?.close();
});

/** Runs IN_FLIGHT requests at once and returns their statuses. */
async function burst(what: string, request: (i: number) => PromiseLike<{ status: number; body: unknown }>): Promise<number[]> {
  const answers = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => request(i)));
  const failed = answers.filter((a) => a.status >= 500);
  if (failed.length) throw new Error(`${what}: ${failed.length} of ${IN_FLIGHT} answered 5xx: ${JSON.stringify(failed[0]!.body)}`);
  return answers.map((a) => a.status);
}

const campaignBody = () => ({
  title: `Pressure ${randomUUID().slice(0, 8)}`,
  description: 'Many at once',
  category: 'technology',
  goal_cents: 10_000,
  currency: 'USD',
  ends_at: new Date(Date.now() + 86_400_000).toISOString(),
  reward_tiers: [{ title: 'Thanks', min_amount_cents: 500, quantity: IN_FLIGHT / 2 }],
});

it('campaigns: create, launch and pledge', async () => {
  const creators = await makeUsers(ctx.deps, IN_FLIGHT, 'creator');
  const created = await burst('create campaign', (i) => ctx.http.post('/v1/campaigns').set('Authorization', bearer(ctx.deps, creators[i]!)).send(campaignBody()));
  expect(created).toEqual(created.map(() => 201));

  const mine = await ctx.http.post('/v1/campaigns').set('Authorization', bearer(ctx.deps, creators[0]!)).send(campaignBody());
  expect((await ctx.http.post(`/v1/campaigns/${mine.body.id}/launch`).set('Authorization', bearer(ctx.deps, creators[0]!)).send({})).status).toBe(200);
  const backers = await makeUsers(ctx.deps, IN_FLIGHT);
  const pledged = await burst('pledge', (i) =>
    ctx.http
      .post(`/v1/campaigns/${mine.body.id}/pledges`)
      .set('Authorization', bearer(ctx.deps, backers[i]!))
      .set('Idempotency-Key', randomUUID())
      .send({ amount_cents: 1_000, reward_tier_id: mine.body.reward_tiers[0].id, payment_method: 'pm_card_visa' }),
  );
  // The tier has room for half of them: the rest are refused as sold out, never a 5xx.
  expect(pledged.filter((s) => s === 201)).toHaveLength(IN_FLIGHT / 2);

  const pledges = (await ctx.deps.db('pledges').where({ campaign_id: mine.body.id, status: 'active' }).select('id', 'backer_id')) as Array<{ id: string; backer_id: string }>;
  const edited = await burst('edit pledge', (i) => {
    const p = pledges[i % pledges.length]!;
    return ctx.http.patch(`/v1/pledges/${p.id}`).set('Authorization', bearer(ctx.deps, p.backer_id)).send({ amount_cents: 1_000 + i });
  });
  expect(edited.every((s) => s < 500)).toBe(true);
  await burst('cancel pledge', (i) => {
    const p = pledges[i % pledges.length]!;
    return ctx.http.delete(`/v1/pledges/${p.id}`).set('Authorization', bearer(ctx.deps, p.backer_id));
  });
  await burst('move deadline', (i) =>
    ctx.http
      .post(`/v1/campaigns/${mine.body.id}/deadline`)
      .set('Authorization', bearer(ctx.deps, creators[0]!))
      .send({ ends_at: new Date(Date.now() + 2 * 86_400_000 + i * 1_000).toISOString() }),
  );
});

it('accounts: register, login, refresh, sign out, email preferences', async () => {
  const emails = Array.from({ length: IN_FLIGHT }, () => `pressure-${randomUUID()}@example.test`);
  const password = 'correct horse battery staple';
  const registered = await burst('register', (i) => ctx.http.post('/v1/auth/register').send({ email: emails[i], password, name: `P${i}` }));
  expect(registered.every((s) => s === 201)).toBe(true);
  const sessions: Array<{ token: string; refresh: string }> = [];
  await burst('login', async (i) => {
    const res = await ctx.http.post('/v1/auth/login').send({ email: emails[i], password });
    sessions[i] = { token: res.body.token, refresh: res.body.refresh_token };
    return res;
  });
  await burst('refresh', async (i) => {
    const res = await ctx.http.post('/v1/auth/refresh').send({ refresh_token: sessions[i]!.refresh });
    sessions[i] = { token: res.body.token, refresh: res.body.refresh_token };
    return res;
  });
  const preferences = await burst('email preferences', (i) =>
    ctx.http.put('/v1/me/email-preferences').set('Authorization', `Bearer ${sessions[i]!.token}`).send({ categories: { campaign_updates: i % 2 === 0 } }),
  );
  expect(preferences.every((s) => s === 200)).toBe(true);
  const loggedOut = await burst('logout', (i) => ctx.http.post('/v1/auth/logout').set('Authorization', `Bearer ${sessions[i]!.token}`).send({}));
  expect(loggedOut.every((s) => s === 204)).toBe(true);
});

it('drops: create, enter, draw, claim; waiting-room joins', async () => {
  const shop = await dropShop(ctx, 4 * IN_FLIGHT, 3_000);
  const helpers = lotteryHelpers(ctx, shop);
  // drawnLottery enters IN_FLIGHT shoppers 8 at a time; the claims below all go at once.
  const { drop, entrants } = await helpers.drawnLottery(IN_FLIGHT, IN_FLIGHT / 2, 60);
  const claimed = await burst('claim', (i) => claim(ctx, drop.id, entrants[i]!.auth));
  expect(claimed.filter((s) => s === 201)).toHaveLength(IN_FLIGHT / 2);

  const fcfs = await createDrop(ctx, shop, { mode: 'fcfs', quantity: IN_FLIGHT, opensIn: -1, closesIn: 600, admissionPerSecond: 100 });
  const shoppers = await makeUsers(ctx.deps, IN_FLIGHT);
  const joined = await burst('queue join', (i) => ctx.http.post(`/v1/drops/${fcfs.id}/queue`).set('Authorization', bearer(ctx.deps, shoppers[i]!)).send({}));
  expect(joined.every((s) => s === 201)).toBe(true);
  const lottery = await createDrop(ctx, shop, { quantity: 2, opensIn: -1, closesIn: 600 });
  const entered = await burst('enter lottery', (i) => enter(ctx, lottery.id, bearer(ctx.deps, shoppers[i]!)));
  expect(entered.every((s) => s === 201)).toBe(true);
});

it('stores: products, restock, carts, adds, checkout and order status changes', async () => {
  const products = await burst('create product', (i) =>
    ctx.http.post(`/v1/stores/${storeId}/products`).set('Authorization', merchant.auth).send({ name: `P${i}`, base_price_cents: 1_000, inventory_count: 50, status: 'active' }),
  );
  expect(products.every((s) => s === 201)).toBe(true);
  const variantId = await createVariant(ctx, merchant, storeId, 10 * IN_FLIGHT);
  await burst('restock', (i) => ctx.http.put(`/v1/stores/${storeId}/inventory/${variantId}`).set('Authorization', merchant.auth).send({ total_stock: 10 * IN_FLIGHT + i }));

  const shoppers = await Promise.all(Array.from({ length: IN_FLIGHT }, () => makeUser(ctx.deps)));
  const carts: string[] = [];
  await burst('open cart', async (i) => {
    const res = await ctx.http.post('/v1/carts').set('Authorization', shoppers[i]!.auth).send({ store_id: storeId });
    carts[i] = res.body.id;
    return res;
  });
  await burst('add to cart', (i) => ctx.http.post(`/v1/carts/${carts[i]}/items`).set('Authorization', shoppers[i]!.auth).send({ variant_id: variantId, quantity: 1 }));
  const orders: string[] = [];
  await burst('checkout', async (i) => {
    const res = await ctx.http
      .post('/v1/checkout')
      .set('Authorization', shoppers[i]!.auth)
      .set('Idempotency-Key', randomUUID())
      .send({ cart_id: carts[i], shipping_address: address, payment_method: 'pm_card_visa' });
    orders[i] = res.body.id;
    return res;
  });
  expect(orders.every(Boolean)).toBe(true);
  const moved = await burst('order to processing', (i) => ctx.http.post(`/v1/orders/${orders[i]}/status`).set('Authorization', merchant.auth).send({ status: 'processing' }));
  expect(moved.every((s) => s === 200)).toBe(true);
  const cancelled = await burst('cancel order', (i) => ctx.http.post(`/v1/orders/${orders[i]}/status`).set('Authorization', merchant.auth).send({ status: 'cancelled', reason: 'pressure' }));
  expect(cancelled.every((s) => s === 200)).toBe(true);
});
