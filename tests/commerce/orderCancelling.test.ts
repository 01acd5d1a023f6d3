import { randomUUID } from 'node:crypto';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { createStore, createVariant, inventoryOf } from './fixtures';

/**
 * A cancellation refunds outside any transaction, so it first marks the order `cancelling`: a cancel that died
 * after the mark (here: the mark set as a crashed request leaves it) blocks every other move of the order, and a
 * retried cancel finishes it — one refund at the gateway, stock back, one history row.
 */
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let owner: TestUser;
let storeId: string;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  worker = await startTestWorker(ctx.deps);
  owner = await makeUser(ctx.deps, { role: 'merchant' });
  storeId = await createStore(ctx, owner, 'Cancelling');
});
afterAll(async () => {
  await worker.stop();
  await ctx.close();
});

it('keeps a half-cancelled order from moving on, and a retried cancel completes it with one refund', async () => {
  const variantId = await createVariant(ctx, owner, storeId, 3);
  const shopper = await makeUser(ctx.deps);
  const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
  expect((await ctx.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: variantId, quantity: 2 })).status).toBe(200);
  const checkout = await ctx.http
    .post('/v1/checkout')
    .set('Authorization', shopper.auth)
    .set('Idempotency-Key', randomUUID())
    .send({ cart_id: cart.body.id, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
  expect(checkout.status).toBe(201);
  const orderId = checkout.body.id as string;
  const setStatus = (body: object) => ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', owner.auth).send(body);
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
