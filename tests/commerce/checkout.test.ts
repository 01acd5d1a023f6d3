import { randomUUID } from 'node:crypto';
import { checkoutKeyFor } from '../../src/commerce/checkoutInput';
import { hotStockKey } from '../../src/commerce/hotStock';
import { PaymentRequestError, type PaymentGateway } from '../../src/payments/gateway';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { holdOrderTwin, holdPaymentTwin, waitUntilBlocked } from './checkoutLocks';
import { createStore, createVariant, inventoryOf } from './fixtures';

/**
 * Checkout (workflow checkout:<key>): order, stock sold, one capture; declines keep the holds; idempotent. The
 * answer comes once the order is placed (stock sold, payment authorized); the capture follows it.
 */
const SHORT_TTL_MS = 3_000;
/** A payment method the provider refuses outright (as Stripe does an unknown pm_): see the gateway in beforeAll. */
const UNKNOWN_PM = 'pm_unknownToTheProvider';

/** The gateway, except that it refuses UNKNOWN_PM as Stripe refuses a payment method it does not know. */
function refusingUnknownPm(gateway: PaymentGateway): PaymentGateway {
  const refusing = Object.create(gateway) as PaymentGateway;
  refusing.authorize = (input) =>
    input.paymentMethod === UNKNOWN_PM ? Promise.reject(new PaymentRequestError(`No such PaymentMethod: '${UNKNOWN_PM}'`, 'resource_missing')) : gateway.authorize(input);
  return refusing;
}

describe('checkout', () => {
  let ctx: TestContext;
  /** The same API (same task queue and tokens) with holds of a few seconds. */
  let short: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let owner: TestUser;
  let storeId: string;

  const address = { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' };

  const variant = (stock: number, price?: number) => createVariant(ctx, owner, storeId, stock, price);
  const inventory = (v: string) => inventoryOf(ctx, v);
  const withAuth = <T extends { set(k: string, v: string): T }>(r: T, auth?: string) => (auth ? r.set('Authorization', auth) : r);

  async function cartWith(lines: Array<[string, number]>, auth?: string, on = ctx): Promise<string> {
    const created = await withAuth(on.http.post('/v1/carts'), auth).send({ store_id: storeId });
    expect(created.status).toBe(201);
    for (const [v, n] of lines) expect((await withAuth(on.http.post(`/v1/carts/${created.body.id}/items`), auth).send({ variant_id: v, quantity: n })).status).toBe(200);
    return created.body.id;
  }
  const checkout = (cartId: string, paymentMethod: string, key: string, auth?: string, on = ctx) =>
    withAuth(on.http.post('/v1/checkout'), auth).set('Idempotency-Key', key).send({ cart_id: cartId, shipping_address: address, payment_method: paymentMethod });
  const ordersFor = (cartId: string) => ctx.deps.db('orders').where({ cart_id: cartId }).select('id', 'checkout_key', 'status');
  const keyOf = (shopper: TestUser, key: string) => checkoutKeyFor({ id: shopper.id, email: shopper.email, role: 'backer' }, undefined, key);
  /** The capture happens after the answer: waits until the checkout's intents settle (none still a bare hold). */
  const settledIntents = (checkoutKey: string) =>
    eventually(async () => {
      const intents = await capturedIntents(checkoutKey);
      return intents.length > 0 && intents.every((i) => i.status !== 'requires_capture') && intents;
    }, 20_000, `the intents of checkout ${checkoutKey} settled`);
  const capturedIntents = async (checkoutKey: string) =>
    (await ctx.deps.db('sim_payment_intents').whereRaw("metadata->>'business_key' = ?", [`checkout:${checkoutKey}:authorize`]).select('status', 'captured_cents')).map((r: { status: string; captured_cents: string | number }) => ({
      status: r.status,
      captured_cents: Number(r.captured_cents),
    }));

  beforeAll(async () => {
    ctx = createTestContext(testConfig());
    short = createTestContext(testConfig({ TASK_QUEUE: ctx.deps.config.TASK_QUEUE, JWT_SECRET: ctx.deps.config.JWT_SECRET, RESERVATION_TTL: `${SHORT_TTL_MS}ms` }));
    ctx.deps.payments = refusingUnknownPm(ctx.deps.payments);
    worker = await startTestWorker(ctx.deps);
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = await createStore(ctx, owner, 'Checkout');
  });
  afterAll(async () => {
    await worker.stop();
    await short.close();
    await ctx.close();
  });

  it('turns a cart into a confirmed order: stock sold, holds committed, cart emptied, one capture', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(10, 2_500);
    const w = await variant(5, 1_000);
    const cartId = await cartWith([[v, 3], [w, 2]], shopper.auth);

    const res = await checkout(cartId, 'pm_card_visa', randomUUID(), shopper.auth);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ store_id: storeId, customer_id: shopper.id, status: 'confirmed', currency: 'EUR', subtotal_cents: 9_500, total_cents: 9_500 });
    expect(res.body.items).toHaveLength(2);
    expect(res.body.status_history.map((h: { to_status: string }) => h.to_status)).toEqual(['pending', 'confirmed']);

    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 3 });
    expect(await inventory(w)).toEqual({ total_stock: 5, reserved: 0, sold: 2 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['committed', 'committed']);

    // The lines left the cart before the answer; the capture follows it.
    expect((await ctx.http.get(`/v1/carts/${cartId}`).set('Authorization', shopper.auth)).body.items).toEqual([]);
    const [order] = await ordersFor(cartId);
    expect(await settledIntents(order.checkout_key)).toEqual([{ status: 'succeeded', captured_cents: 9_500 }]);

    // The customer and the store owner read it; anyone else gets 404.
    const mine = await ctx.http.get(`/v1/orders/${res.body.id}`).set('Authorization', shopper.auth);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ id: res.body.id, status: 'confirmed', items: expect.any(Array), status_history: expect.any(Array) });
    expect((await ctx.http.get(`/v1/orders/${res.body.id}`).set('Authorization', owner.auth)).status).toBe(200);
    const stranger = await makeUser(ctx.deps);
    expectProblem(await ctx.http.get(`/v1/orders/${res.body.id}`).set('Authorization', stranger.auth), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/orders/${randomUUID()}`).set('Authorization', shopper.auth), 404, 'not_found');
  });

  it('answers a declined card with 402, keeps the holds and creates no order; another card then works', async () => {
    const v = await variant(6);
    const cartId = await cartWith([[v, 2]]);
    const before = await inventory(v);

    const declined = await checkout(cartId, 'pm_card_chargeDeclined', randomUUID());
    expectProblem(declined, 402, 'payment_declined');
    expect(await inventory(v)).toEqual(before);
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['held']);
    expect(await ordersFor(cartId)).toEqual([]);

    const action = await checkout(cartId, 'pm_card_authenticationRequired', randomUUID());
    expectProblem(action, 402, 'requires_action');
    expect(action.body.next_action).toEqual({ client_secret: expect.stringMatching(/^pi_.+_secret_/) });
    expect(await inventory(v)).toEqual(before);

    const ok = await checkout(cartId, 'pm_card_visa', randomUUID());
    expect(ok.status).toBe(201);
    expect(await inventory(v)).toEqual({ total_stock: 6, reserved: 0, sold: 2 });
  });

  it('reports a price changed since add-to-cart with 409 (cart and current price), charges nothing, keeps the holds, reprices the cart; a new checkout sells at the new price', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(5, 2_000);
    const cartId = await cartWith([[v, 2]], shopper.auth);
    const { product_id: productId } = await ctx.deps.db('variants').where({ id: v }).first('product_id');
    const patched = await ctx.http.patch(`/v1/stores/${storeId}/products/${productId}`).set('Authorization', owner.auth).send({ base_price_cents: 2_300 });
    expect(patched.status).toBe(200);

    const key = randomUUID();
    const changed = await checkout(cartId, 'pm_card_visa', key, shopper.auth);
    expectProblem(changed, 409, 'price_changed');
    expect(changed.body.items).toEqual([{ variant_id: v, cart_unit_price_cents: 2_000, current_unit_price_cents: 2_300 }]);

    // Nothing was charged at either price: the saga stopped before the payment step, and the holds stay.
    const checkoutKey = checkoutKeyFor({ id: shopper.id, email: shopper.email, role: 'backer' }, undefined, key);
    const saga = (await ctx.deps.temporal.client()).workflow.getHandle(`checkout:${checkoutKey}`);
    await expect(saga.result()).resolves.toMatchObject({ status: 'price_changed' });
    expect(await capturedIntents(checkoutKey)).toEqual([]);
    expect(await ctx.deps.db('payments').where({ business_key: `checkout:${checkoutKey}:authorize` }).pluck('id')).toEqual([]);
    expect(await ordersFor(cartId)).toEqual([]);
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 2, sold: 0 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['held']);

    // The cart now shows the price it would be sold at.
    const cart = await ctx.http.get(`/v1/carts/${cartId}`).set('Authorization', shopper.auth);
    expect(cart.body.items).toEqual([expect.objectContaining({ variant_id: v, quantity: 2, unit_price_cents: 2_300 })]);

    // The same key replays the same answer; a new one checks out at the new price.
    expectProblem(await checkout(cartId, 'pm_card_visa', key, shopper.auth), 409, 'price_changed');
    const ok = await checkout(cartId, 'pm_card_visa', randomUUID(), shopper.auth);
    expect(ok.status).toBe(201);
    expect(ok.body.items).toEqual([expect.objectContaining({ variant_id: v, quantity: 2, unit_price_cents: 2_300, line_total_cents: 4_600 })]);
    expect(ok.body).toMatchObject({ subtotal_cents: 4_600, total_cents: 4_600 });
    const [order] = await ordersFor(cartId);
    expect(await settledIntents(order.checkout_key)).toEqual([{ status: 'succeeded', captured_cents: 4_600 }]);
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 0, sold: 2 });
  });

  it('never sells other quantities than it charged for: a line changed while the checkout runs is refused (409), nothing sold or charged; a new checkout sells the new quantity', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(10, 1_000);
    const cartId = await cartWith([[v, 3]], shopper.auth);
    const key = randomUUID();
    const checkoutKey = checkoutKeyFor({ id: shopper.id, email: shopper.email, role: 'backer' }, undefined, key);

    // The checkout is held up after confirming its holds (its payment record waits for an uncommitted twin)...
    const twin = await holdPaymentTwin(ctx.deps.db, checkoutKey);
    const pending = checkout(cartId, 'pm_card_visa', key, shopper.auth).then((r) => r);
    try {
      await waitUntilBlocked(ctx.deps.db, twin, 'the checkout to wait for its authorization');
      // ...while the shopper raises the line in another tab.
      expect((await ctx.http.patch(`/v1/carts/${cartId}/items/${v}`).set('Authorization', shopper.auth).send({ quantity: 5 })).status).toBe(200);
    } finally {
      await twin.release();
    }

    const res = await pending;
    expectProblem(res, 409, 'insufficient_stock');
    expect(res.body.items).toEqual([{ variant_id: v, requested: 3, available: 5 }]);
    // The order went with the refused sale (one transaction): none was left, not even a cancelled one.
    expect(await ordersFor(cartId)).toEqual([]);
    expect((await capturedIntents(checkoutKey)).map((i: { status: string }) => i.status)).toEqual(['canceled']);
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 5, sold: 0 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).select('status', 'quantity')).toEqual([{ status: 'held', quantity: 5 }]);

    const ok = await checkout(cartId, 'pm_card_visa', randomUUID(), shopper.auth);
    expect(ok.status).toBe(201);
    expect(ok.body.items).toEqual([expect.objectContaining({ variant_id: v, quantity: 5, line_total_cents: 5_000 })]);
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 5 });
  });

  it('gives up an order that cannot be placed while the holds last: 422 checkout_expired, no order, authorization voided, holds and cart line given back', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(5, 1_000);
    const cartId = await cartWith([[v, 2]], shopper.auth, short);
    const key = randomUUID();
    const checkoutKey = checkoutKeyFor({ id: shopper.id, email: shopper.email, role: 'backer' }, undefined, key);

    // The order insert is held up (an uncommitted twin) past the holds' few seconds: the order step is cut off at
    // their end and the checkout gives up, answering while the insert would still be waiting.
    const twin = await holdOrderTwin(ctx.deps.db, { storeId, cartId, checkoutKey });
    try {
      const pending = checkout(cartId, 'pm_card_visa', key, shopper.auth, short).then((r) => r);
      await waitUntilBlocked(ctx.deps.db, twin, 'the checkout to wait for its order');
      expectProblem(await pending, 422, 'checkout_expired');
      // Nothing of the checkout waits on the twin any more: its statement was cancelled, its transaction gone.
      const waiting = await ctx.deps.db.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))', [twin.pid]);
      expect(waiting.rows[0].n).toBe(0);
    } finally {
      await twin.release();
    }

    expect(await ordersFor(cartId)).toEqual([]);
    expect((await capturedIntents(checkoutKey)).map((i: { status: string }) => i.status)).toEqual(['canceled']);
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 0, sold: 0 });
    // The line left the cart with its hold: added again, it is held afresh and sells.
    expect((await short.http.get(`/v1/carts/${cartId}`).set('Authorization', shopper.auth)).body.items).toEqual([]);
    expect((await short.http.post(`/v1/carts/${cartId}/items`).set('Authorization', shopper.auth).send({ variant_id: v, quantity: 2 })).status).toBe(200);
    const again = await checkout(cartId, 'pm_card_visa', randomUUID(), shopper.auth, short);
    expect(again.status).toBe(201);
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 0, sold: 2 });
  });

  it('sells a cart once when two checkouts of it (two Idempotency-Keys) both reach their order: one order, one capture; the other 409 insufficient_stock, its authorization voided', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(5, 1_000);
    const cartId = await cartWith([[v, 2]], shopper.auth);
    const [a, b] = [randomUUID(), randomUUID()];
    const keys = [keyOf(shopper, a), keyOf(shopper, b)];

    // Both checkouts (two tabs) confirm the same holds, authorize, and are held up at their order inserts; let
    // go together, both insert their orders while the holds are still held, and both go on to commit in that
    // same transaction: one sells, the other's order rolls back with its refused commit.
    const twins = [await holdOrderTwin(ctx.deps.db, { storeId, cartId, checkoutKey: keys[0]! }), await holdOrderTwin(ctx.deps.db, { storeId, cartId, checkoutKey: keys[1]! })];
    const pending = [a, b].map((k) => checkout(cartId, 'pm_card_visa', k, shopper.auth).then((r) => r));
    try {
      for (const twin of twins) await waitUntilBlocked(ctx.deps.db, twin, 'both checkouts to wait for their orders');
    } finally {
      await Promise.all(twins.map((t) => t.release()));
    }
    const responses = await Promise.all(pending);

    expect(responses.map((r) => r.status).sort()).toEqual([201, 409]);
    const won = responses.findIndex((r) => r.status === 201);
    const lost = 1 - won;
    expectProblem(responses[lost]!, 409, 'insufficient_stock');
    expect(responses[lost]!.body.items).toEqual([{ variant_id: v, requested: 2, available: 0 }]);
    const orders = await ordersFor(cartId);
    expect(orders.map((o: { checkout_key: string; status: string }) => [o.checkout_key, o.status])).toEqual([[keys[won], 'confirmed']]);
    expect(await settledIntents(keys[won]!)).toEqual([{ status: 'succeeded', captured_cents: 2_000 }]);
    expect((await capturedIntents(keys[lost]!)).map((i: { status: string }) => i.status)).toEqual(['canceled']);
    // Sold once, to the checkout that charged for it; the loser's restock gave back nothing of the winner's.
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 0, sold: 2 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).select('status', 'checkout_key')).toEqual([{ status: 'committed', checkout_key: keys[won] }]);

    // Unpinned, several keys at once: still one sale and one capture.
    const w = await variant(5, 1_000);
    const raced = await cartWith([[w, 1]], shopper.auth);
    const raceKeys = Array.from({ length: 4 }, () => randomUUID());
    // A 503 (Temporal's deadline passed on a loaded machine) is the API's "retry with the same key": retried.
    const answered = (k: string) =>
      eventually(async () => {
        const r = await checkout(raced, 'pm_card_visa', k, shopper.auth);
        return r.status !== 503 && r;
      }, 60_000, `the answer under key ${k}`, 250);
    const answers = await Promise.all(raceKeys.map(answered));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    // The others found the holds gone (or, arriving after the winner emptied the cart, an empty cart).
    for (const r of answers.filter((x) => x.status !== 201)) expect([409, 422]).toContain(r.status);
    for (const r of answers.filter((x) => x.status === 409)) expectProblem(r, 409, 'insufficient_stock');
    for (const r of answers.filter((x) => x.status === 422)) expectProblem(r, 422, 'cart_empty');
    const intents = (await Promise.all(raceKeys.map(async (k) => ((await capturedIntents(keyOf(shopper, k))).length ? settledIntents(keyOf(shopper, k)) : [])))).flat();
    expect(intents.filter((i) => i.status === 'succeeded')).toEqual([{ status: 'succeeded', captured_cents: 1_000 }]);
    expect(intents.filter((i) => i.status !== 'succeeded').every((i) => i.status === 'canceled')).toBe(true);
    expect((await ordersFor(raced)).filter((o: { status: string }) => o.status === 'confirmed')).toHaveLength(1);
    expect(await inventory(w)).toEqual({ total_stock: 5, reserved: 0, sold: 1 });
  });

  it('keeps the cart counting down for a line added while its checkout ran: that hold expires with the TTL instead of staying held', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(5, 1_000);
    const w = await variant(5, 1_000);
    const cartId = await cartWith([[v, 1]], shopper.auth, short);
    const key = randomUUID();

    const twin = await holdPaymentTwin(ctx.deps.db, keyOf(shopper, key));
    const pending = checkout(cartId, 'pm_card_visa', key, shopper.auth, short).then((r) => r);
    try {
      await waitUntilBlocked(ctx.deps.db, twin, 'the checkout to wait for its authorization');
      // Another tab adds a line while the checkout runs.
      expect((await short.http.post(`/v1/carts/${cartId}/items`).set('Authorization', shopper.auth).send({ variant_id: w, quantity: 2 })).status).toBe(200);
    } finally {
      await twin.release();
    }
    expect((await pending).status).toBe(201);
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 0, sold: 1 });

    // The checkout sold v only; w is still held, and its hold expires with the TTL like any other.
    await eventually(async () => (await inventory(w)).reserved === 0, 30_000, 'the line added meanwhile released at its expiry');
    expect(await inventory(w)).toEqual({ total_stock: 5, reserved: 0, sold: 0 });
    expect(await ctx.deps.db('reservations').where({ cart_id: cartId, variant_id: w }).pluck('status')).toEqual(['released']);
  });

  it('a capture refused after the confirmed answer cancels the order: stock (and the hot counter) given back, the saga ends payment_not_captured', async () => {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Hot ${randomUUID().slice(0, 6)}`, base_price_cents: 1_000, variants: [{ sku: `HOT-${randomUUID().slice(0, 8)}`, attributes: {}, inventory_count: 5, hot: true }] });
    expect(res.status).toBe(201);
    const v = res.body.variants[0].id as string;
    const shopper = await makeUser(ctx.deps);
    const cartId = await cartWith([[v, 2]], shopper.auth);
    expect(Number(await ctx.deps.redis.get(hotStockKey(v)))).toBe(3);
    const key = randomUUID();
    const checkoutKey = keyOf(shopper, key);

    // Held up after its authorization, whose hold then lapses at the provider: the capture fails after the answer.
    const twin = await holdOrderTwin(ctx.deps.db, { storeId, cartId, checkoutKey });
    const pending = checkout(cartId, 'pm_card_visa', key, shopper.auth).then((r) => r);
    try {
      await waitUntilBlocked(ctx.deps.db, twin, 'the checkout to wait for its order');
      await ctx.deps.db('sim_payment_intents').whereRaw("metadata->>'business_key' = ?", [`checkout:${checkoutKey}:authorize`]).update({ status: 'canceled' });
    } finally {
      await twin.release();
    }
    // The shopper was answered when the order was placed (stock sold, payment authorized as far as it knew).
    const answered = await pending;
    expect(answered.status).toBe(201);
    expect(answered.body).toMatchObject({ status: 'confirmed' });

    const saga = (await ctx.deps.temporal.client()).workflow.getHandle(`checkout:${checkoutKey}`);
    await expect(saga.result()).resolves.toMatchObject({ status: 'payment_failed', code: 'payment_not_captured', declineCode: 'canceled' });
    const [order] = await ordersFor(cartId);
    expect(order).toMatchObject({ id: answered.body.id, status: 'cancelled' });
    // The shopper reading the order sees it cancelled, with why.
    const read = await ctx.http.get(`/v1/orders/${order.id}`).set('Authorization', shopper.auth);
    expect(read.body.status_history.map((h: { to_status: string }) => h.to_status)).toEqual(['pending', 'confirmed', 'cancelled']);
    // The lines left the cart when the order was placed: adding them again is a fresh start.
    expect((await ctx.http.get(`/v1/carts/${cartId}`).set('Authorization', shopper.auth)).body.items).toEqual([]);

    expect(await ctx.deps.db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['released']);
    expect(await inventory(v)).toEqual({ total_stock: 5, reserved: 0, sold: 0 });
    // Postgres has all 5 free again, and so does the counter (never below Postgres, so no false 409 on a peek).
    expect(Number(await ctx.deps.redis.get(hotStockKey(v)))).toBe(5);
    expect((await ctx.http.post(`/v1/carts/${await cartWith([], undefined)}/items`).send({ variant_id: v, quantity: 5 })).status).toBe(200);
  });

  it('answers a payment method the provider refuses outright with 422 payment_method_rejected, keeps the holds; another card then works', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(4, 1_500);
    const cartId = await cartWith([[v, 2]], shopper.auth);
    const key = randomUUID();

    const res = await checkout(cartId, UNKNOWN_PM, key, shopper.auth);
    expectProblem(res, 422, 'payment_method_rejected');
    expect(res.body).toMatchObject({ reason: 'resource_missing', detail: expect.stringContaining(UNKNOWN_PM) });
    const saga = (await ctx.deps.temporal.client()).workflow.getHandle(`checkout:${keyOf(shopper, key)}`);
    await expect(saga.result()).resolves.toMatchObject({ status: 'payment_failed', code: 'payment_method_rejected' });
    expect(await ordersFor(cartId)).toEqual([]);
    expect(await inventory(v)).toEqual({ total_stock: 4, reserved: 2, sold: 0 });
    expectProblem(await checkout(cartId, UNKNOWN_PM, key, shopper.auth), 422, 'payment_method_rejected');

    expect((await checkout(cartId, 'pm_card_visa', randomUUID(), shopper.auth)).status).toBe(201);
    expect(await inventory(v)).toEqual({ total_stock: 4, reserved: 0, sold: 2 });
  });

  it('answers a key’s earlier checkout only for its own cart: another empty or gone cart under that key is 422 as for any', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await variant(3);
    const cartId = await cartWith([[v, 1]], shopper.auth);
    const key = randomUUID();
    const first = await checkout(cartId, 'pm_card_visa', key, shopper.auth);
    expect(first.status).toBe(201);
    // The key's stored response is gone (expired and purged): the request runs again, against the saga's result.
    const forget = () => ctx.deps.db('idempotency_keys').where({ scope: `user:${shopper.id}`, key }).delete();
    await forget();
    expect((await checkout(cartId, 'pm_card_visa', key, shopper.auth)).body).toMatchObject({ id: first.body.id, status: 'confirmed' });

    await forget();
    const empty = (await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId })).body.id;
    expectProblem(await checkout(empty, 'pm_card_visa', key, shopper.auth), 422, 'cart_empty');
    await forget();
    expectProblem(await checkout(randomUUID(), 'pm_card_visa', key, shopper.auth), 422, 'cart_expired');
  });

  it('creates one order and one capture when the same Idempotency-Key is sent 10 times at once', async () => {
    const v = await variant(10);
    const cartId = await cartWith([[v, 4]]);
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 10 }, () => checkout(cartId, 'pm_card_visa', key)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses).toContain(201);
    for (const r of responses.filter((x) => x.status === 409)) expectProblem(r, 409, 'request_in_progress');

    // Replays after the fact answer the same order.
    const again = await checkout(cartId, 'pm_card_visa', key);
    expect(again.status).toBe(201);
    const orders = await ordersFor(cartId);
    expect(orders).toHaveLength(1);
    expect(again.body.id).toBe(orders[0].id);
    expect(await settledIntents(orders[0].checkout_key)).toEqual([{ status: 'succeeded', captured_cents: 10_000 }]);
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 4 });
  });

  it('refuses an empty or gone cart with 422, another shopper’s cart with 404, and bad bodies with 400', async () => {
    const [alice, bob] = [await makeUser(ctx.deps), await makeUser(ctx.deps)];
    const empty = (await ctx.http.post('/v1/carts').send({ store_id: storeId })).body.id;
    expectProblem(await checkout(empty, 'pm_card_visa', randomUUID()), 422, 'cart_empty');
    expectProblem(await checkout(randomUUID(), 'pm_card_visa', randomUUID()), 422, 'cart_expired');
    const v = await variant(3);
    const alices = await cartWith([[v, 1]], alice.auth);
    expectProblem(await checkout(alices, 'pm_card_visa', randomUUID(), bob.auth), 404, 'not_found');
    expectProblem(await checkout(alices, 'pm_card_visa', randomUUID()), 404, 'not_found');

    const post = (body: unknown) => ctx.http.post('/v1/checkout').set('Idempotency-Key', randomUUID()).send(body as object);
    for (const body of [
      { cart_id: alices, shipping_address: address, payment_method: 'card' },
      { cart_id: alices, shipping_address: { ...address, country: 'Germany' }, payment_method: 'pm_card_visa' },
      { cart_id: alices, shipping_address: { ...address, extra: 1 }, payment_method: 'pm_card_visa' },
      { cart_id: 'nope', shipping_address: address, payment_method: 'pm_card_visa' },
      { cart_id: alices, payment_method: 'pm_card_visa' },
    ]) {
      expectProblem(await post(body), 400, 'validation_failed');
    }
    expectProblem(await ctx.http.post('/v1/checkout').send({ cart_id: alices, shipping_address: address, payment_method: 'pm_card_visa' }), 400, 'idempotency_key_required');
    expect(await inventory(v)).toMatchObject({ reserved: 1, sold: 0 });
  });
});
