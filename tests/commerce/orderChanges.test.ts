import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { createStore, createVariant, inventoryOf } from './fixtures';

/**
 * What happens around a merchant's order changes beyond the status path (orders.test.ts): a cancellation's
 * refund runs outside any transaction behind a `cancelling` mark, and the shopper is told of each change.
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let owner: TestUser;
let storeId: string;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  worker = await startTestWorker(ctx.deps);
  owner = await makeUser(ctx.deps, { role: 'merchant' });
  storeId = await createStore(ctx, owner, 'Order changes');
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

/** A signed-in shopper's confirmed order of `quantity` units of a new variant; `checkout` replays it by its key. */
async function placeOrder(stock: number, quantity: number, priceCents = 2_500) {
  const variantId = await createVariant(ctx, owner, storeId, stock, priceCents);
  const shopper = await makeUser(ctx.deps);
  const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
  expect((await ctx.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: variantId, quantity })).status).toBe(200);
  const key = randomUUID();
  const checkout = () =>
    ctx.http
      .post('/v1/checkout')
      .set('Authorization', shopper.auth)
      .set('Idempotency-Key', key)
      .send({ cart_id: cart.body.id, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
  const placed = await checkout();
  expect(placed.status).toBe(201);
  const orderId = placed.body.id as string;
  const setStatus = (body: object) => ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', owner.auth).send(body);
  return { variantId, shopper, orderId, checkout, setStatus };
}

it('keeps a half-cancelled order from moving on, and a retried cancel completes it with one refund', async () => {
  const { variantId, orderId, setStatus } = await placeOrder(3, 2);
  expect((await setStatus({ status: 'processing' })).status).toBe(200);

  // A cancel that crashed after marking the order.
  await ctx.deps.db('orders').where({ id: orderId }).update({ cancelling_since: ctx.deps.db.fn.now() });
  expectProblem(await setStatus({ status: 'shipped' }), 409, 'order_cancelling');
  expect(await ctx.deps.db('orders').where({ id: orderId }).first('status')).toEqual({ status: 'processing' });

  const cancelled = await setStatus({ status: 'cancelled', reason: 'retried' });
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.status).toBe('cancelled');
  expect(await ctx.deps.db('orders').where({ id: orderId }).first('cancelling_since')).toEqual({ cancelling_since: null });
  expect(await inventoryOf(ctx, variantId)).toMatchObject({ total_stock: 3, sold: 0 });
  // The money went back once: the capture refunded by one refund, or (still uncaptured) the hold voided.
  const { payment_key } = await ctx.deps.db('orders').where({ id: orderId }).first('payment_key');
  const intent = await ctx.deps.db('sim_payment_intents').whereRaw(`metadata->>'business_key' = ?`, [payment_key]).first('id', 'status', 'captured_cents', 'refunded_cents');
  const refunds = await ctx.deps.db('sim_refunds').where({ payment_intent_id: intent.id });
  if (intent.status === 'canceled') expect(refunds).toHaveLength(0);
  else expect({ refunds: refunds.length, refunded: intent.refunded_cents }).toEqual({ refunds: 1, refunded: intent.captured_cents });
  expect(await ctx.deps.db('order_status_history').where({ order_id: orderId, to_status: 'cancelled' })).toHaveLength(1);
});

it('tells the shopper once when the order is confirmed and at each move the merchant makes', async () => {
  const { shopper, orderId, checkout, setStatus } = await placeOrder(5, 2, 1_250);
  expect((await checkout()).body.id).toBe(orderId);

  for (const status of ['processing', 'shipped', 'delivered']) {
    expect((await setStatus({ status })).status).toBe(200);
  }

  const told = (await ctx.deps.db('notifications').where({ user_id: shopper.id }).orderBy('created_at').select('type', 'data')) as Array<{ type: string; data: Record<string, unknown> }>;
  expect(told.map((n) => n.type)).toEqual(['order_confirmed', 'order_shipped', 'order_delivered']);
  expect(told[0]!.data).toMatchObject({ order_id: orderId, total_cents: 2_500, status: 'confirmed' });
  // Each reaches the mail outbox too (the email lane sends it; tests/notifications prove the delivery).
  const mails = await ctx.deps.db('outbox').where({ topic: 'notification_email' }).whereRaw(`payload::text LIKE ?`, [`%${orderId}%`]).count<{ count: number }[]>('* as count');
  expect(Number(mails[0]!.count)).toBe(3);
});
