import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { createStore, createVariant } from './fixtures';

/**
 * A signed-in shopper hears about their order outside the cart page: one notification (inbox, push, and the
 * email the outbox sends from it) when it is confirmed, and when the merchant ships, delivers or cancels it.
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let owner: TestUser;
let storeId: string;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  worker = await startTestWorker(ctx.deps);
  owner = await makeUser(ctx.deps, { role: 'merchant' });
  storeId = await createStore(ctx, owner, 'Notices');
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

it('tells the shopper once when the order is confirmed and at each move the merchant makes', async () => {
  const variantId = await createVariant(ctx, owner, storeId, 5, 1_250);
  const shopper = await makeUser(ctx.deps);
  const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
  expect((await ctx.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: variantId, quantity: 2 })).status).toBe(200);
  const key = randomUUID();
  const checkout = () =>
    ctx.http
      .post('/v1/checkout')
      .set('Authorization', shopper.auth)
      .set('Idempotency-Key', key)
      .send({ cart_id: cart.body.id, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
  const placed = await checkout();
  expect(placed.status).toBe(201);
  expect((await checkout()).body.id).toBe(placed.body.id);
  const orderId = placed.body.id as string;

  for (const status of ['processing', 'shipped', 'delivered']) {
    expect((await ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', owner.auth).send({ status })).status).toBe(200);
  }

  const told = (await ctx.deps.db('notifications').where({ user_id: shopper.id }).orderBy('created_at').select('type', 'data')) as Array<{ type: string; data: Record<string, unknown> }>;
  expect(told.map((n) => n.type)).toEqual(['order_confirmed', 'order_shipped', 'order_delivered']);
  expect(told[0]!.data).toMatchObject({ order_id: orderId, total_cents: 2_500, status: 'confirmed' });
  // Each reaches the mail outbox too (the email lane sends it; tests/notifications prove the delivery).
  const mails = await ctx.deps.db('outbox').where({ topic: 'notification_email' }).whereRaw(`payload::text LIKE ?`, [`%${orderId}%`]).count<{ count: number }[]>('* as count');
  expect(Number(mails[0]!.count)).toBe(3);
});
