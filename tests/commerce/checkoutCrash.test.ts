import { randomUUID } from 'node:crypto';
import type supertest from 'supertest';
import { checkoutKeyFor } from '../../src/commerce/checkoutInput';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { startWorkerProcess, type Running } from '../startup/processHelpers';
import { holdLock, holdOrderTwin, holdPaymentTwin, waitUntilBlocked, type HeldLock } from './checkoutLocks';
import { createStore, createVariant, inventoryOf } from './fixtures';

/**
 * A worker process is SIGKILLed in the middle of six checkouts, each stopped at a chosen step by a row lock
 * the test holds in an open transaction (only that checkout's rows): the step's first statement waits on it,
 * the test sees the worker's session waiting (pg_blocking_pids), kills the worker, then rolls back. So the
 * kill lands at the same step on every run, never by timing luck:
 *
 * - `authorizing`: after the holds were confirmed, before the authorization (an uncommitted payment record);
 * - `ordering`: after the authorization, before the order was created (an uncommitted order, same key);
 * - `committing`: inside the transaction that places the order, after its order row was written, before the
 *   held stock was committed to sold (inventory row): the order and the sale are one transaction;
 * - `capturing`: while the capture is at the gateway, not yet done there (the simulated gateway's intent row);
 *   its order was placed already (the shopper is answered once it is, the capture follows);
 * - `captured`: after the gateway captured, before the platform recorded it (the payments row);
 * - `expiring`: before the order was created (an uncommitted order with the same checkout key), and the
 *   workers stay away longer than the holds last (RESERVATION_TTL of a few seconds).
 *
 * A new worker then takes over. The first five must end with exactly one confirmed order and one capture;
 * the last with the authorization voided, the stock back and `checkout_expired` for the client's retry.
 */

const SHORT_TTL_MS = 5_000;
/** Names the killed worker's Postgres sessions, to see what they wait on and that they are gone. */
const CHILD_APP = `h1-checkout-crash-${randomUUID().slice(0, 8)}`;

/** SIGKILLs an entry started by startEntry (the worker's own node process) and waits until it is gone. */
async function killEntry(running: Running): Promise<void> {
  running.child.kill('SIGKILL');
  const exited = await running.exited;
  expect(exited.signal).toBe('SIGKILL');
}

interface Checkout {
  label: string;
  cartId: string;
  variantId: string;
  quantity: number;
  amountCents: number;
  key: string;
  checkoutKey: string;
  /** The HTTP request that started it: left waiting while the worker is stuck, then 503 (or 201 once its order is placed). */
  first: Promise<supertest.Response>;
}

describe('checkout with a killed worker', () => {
  let ctx: TestContext;
  /** The same API with RESERVATION_TTL of a few seconds, on the same task queue. */
  let shortCtx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  let owner: TestUser;
  let shopper: TestUser;
  let storeId: string;
  const locks: HeldLock[] = [];
  const at: Record<'authorizing' | 'ordering' | 'committing' | 'capturing' | 'captured' | 'expiring', Checkout> = {} as never;
  /** What the saga had done when the worker died, read before the new worker started. */
  const atKill: Record<string, unknown> = {};

  const address = { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' };
  const db = () => ctx.deps.db;

  const checkoutRequest = (c: TestContext, cartId: string, key: string) =>
    c.http.post('/v1/checkout').set('Authorization', shopper.auth).set('Idempotency-Key', key).send({ cart_id: cartId, shipping_address: address, payment_method: 'pm_card_visa' });
  const paymentKey = (checkoutKey: string) => `checkout:${checkoutKey}:authorize`;
  const intentsOf = async (checkoutKey: string) =>
    (await db()('sim_payment_intents').whereRaw("metadata->>'business_key' = ?", [paymentKey(checkoutKey)]).select('id', 'status', 'captured_cents')) as Array<{
      id: string;
      status: string;
      captured_cents: number;
    }>;
  const paymentStatus = async (checkoutKey: string) => ((await db()('payments').where({ business_key: paymentKey(checkoutKey) }).first('status')) as { status: string } | undefined)?.status;
  const ordersOf = (cartId: string) => db()('orders').where({ cart_id: cartId }).select('id', 'status') as Promise<Array<{ id: string; status: string }>>;
  const holdsOf = (cartId: string) => db()('reservations').where({ cart_id: cartId }).pluck('status') as Promise<string[]>;

  /** Takes a lock (see checkoutLocks.ts), released after the kill at the latest. */
  async function hold(taking: Promise<HeldLock>): Promise<HeldLock> {
    const lock = await taking;
    locks.push(lock);
    return lock;
  }
  /** The checkout's order INSERT waits for this uncommitted twin (see checkoutLocks.ts). */
  const orderTwin = (c: Omit<Checkout, 'first'>) => holdOrderTwin(db(), { storeId, ...c });
  /** Waits until one of the worker process's sessions waits on `lock` (generous: the worker may still be starting). */
  const workerWaitsOn = (lock: HeldLock, what: string) =>
    waitUntilBlocked(db(), lock, `the worker process waiting ${what}`, { applicationName: CHILD_APP, timeoutMs: 90_000 });

  /** A signed-in shopper's cart with `quantity` units of a fresh variant, and the key its checkout will use. */
  async function prepare(c: TestContext, label: string, quantity: number, price: number): Promise<Omit<Checkout, 'first'>> {
    const variantId = await createVariant(c, owner, storeId, 10, price);
    const cart = await c.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
    expect(cart.status).toBe(201);
    const added = await c.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: variantId, quantity });
    expect(added.status).toBe(200);
    const key = randomUUID();
    const checkoutKey = checkoutKeyFor({ id: shopper.id, email: shopper.email, role: 'backer' }, undefined, key);
    return { label, cartId: cart.body.id, variantId, quantity, amountCents: quantity * price, key, checkoutKey };
  }
  /** Sends the checkout request without waiting for its answer. */
  function start(c: TestContext, prepared: Omit<Checkout, 'first'>): Checkout {
    const first = checkoutRequest(c, prepared.cartId, prepared.key).then((r) => r);
    return { ...prepared, first };
  }
  /** The answer to the client retrying with the same Idempotency-Key, once the workflow has one (not 503). */
  const replay = (c: TestContext, co: Checkout) =>
    eventually(
      async () => {
        const res = await checkoutRequest(c, co.cartId, co.key);
        return res.status !== 503 && res;
      },
      60_000,
      `the ${co.label} checkout's final answer`,
      500,
    );

  /** Takes a lock first, then starts the checkout, and waits until the worker waits on that lock. */
  async function stopAt(
    prepared: Omit<Checkout, 'first'>,
    take: (co: Omit<Checkout, 'first'>) => Promise<HeldLock>,
    what: string,
    on = ctx,
  ): Promise<{ co: Checkout; lock: HeldLock }> {
    const lock = await hold(take(prepared));
    const co = start(on, prepared);
    await workerWaitsOn(lock, `for the ${prepared.label} checkout ${what}`);
    return { co, lock };
  }

  /**
   * Stops a checkout after its order was created: the order waits on its twin while `next` takes the lock of the
   * step to stop at; then the twin goes, and the worker runs on into that lock.
   */
  async function stopAfterOrder(prepared: Omit<Checkout, 'first'>, next: (co: Checkout) => Promise<HeldLock>, what: string): Promise<Checkout> {
    const { co, lock: twin } = await stopAt(prepared, orderTwin, 'to create its order');
    const lock = await hold(next(co));
    await twin.release();
    await workerWaitsOn(lock, `for the ${co.label} checkout ${what}`);
    return co;
  }

  /**
   * The checkout's final answer is its one confirmed order, paid by exactly one capture, its stock sold once. The
   * first request got 503 when the worker died before the order was placed; when it died after, the first request
   * had its 201 unless its 2 s Temporal deadline ran out while the test held the order back (503 too).
   */
  async function expectOneOrderOneCapture(co: Checkout, placedBeforeKill = false): Promise<void> {
    const first = await co.first;
    expect(placedBeforeKill ? [201, 503] : [503]).toContain(first.status);
    const res = await replay(ctx, co);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'confirmed', total_cents: co.amountCents });
    if (first.status === 201) expect(res.body.id).toBe(first.body.id);
    expect(await ordersOf(co.cartId)).toEqual([{ id: res.body.id, status: 'confirmed' }]);
    // The capture follows the answer: the new worker finishes it.
    await eventually(async () => (await paymentStatus(co.checkoutKey)) === 'succeeded', 60_000, `the ${co.label} checkout's capture`, 250);
    expect((await intentsOf(co.checkoutKey)).map(({ status, captured_cents }) => ({ status, captured_cents }))).toEqual([{ status: 'succeeded', captured_cents: co.amountCents }]);
    expect(await inventoryOf(ctx, co.variantId)).toEqual({ total_stock: 10, reserved: 0, sold: co.quantity });
    expect(await holdsOf(co.cartId)).toEqual(['committed']);
  }

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ TEMPORAL_UPDATE_TIMEOUT: '2s', PAYMENT_STEP_TIMEOUT: '6s' }));
    shortCtx = createTestContext(
      testConfig({
        TASK_QUEUE: ctx.deps.config.TASK_QUEUE,
        JWT_SECRET: ctx.deps.config.JWT_SECRET,
        TEMPORAL_UPDATE_TIMEOUT: '2s',
        PAYMENT_STEP_TIMEOUT: '6s',
        RESERVATION_TTL: `${SHORT_TTL_MS}ms`,
      }),
    );
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    shopper = await makeUser(ctx.deps);
    storeId = await createStore(ctx, owner, 'Crash');

    // The worker is a separate OS process, so it can really be killed (no graceful shutdown).
    child = startWorkerProcess(ctx.deps.config, { appName: CHILD_APP });

    at.authorizing = (await stopAt(await prepare(ctx, 'authorizing', 1, 4_000), (co) => holdPaymentTwin(db(), co.checkoutKey), 'to authorize')).co;
    at.ordering = (await stopAt(await prepare(ctx, 'ordering', 2, 2_500), orderTwin, 'to create its order')).co;
    at.committing = await stopAfterOrder(
      await prepare(ctx, 'committing', 3, 1_500),
      (co) => holdLock(db(), 'SELECT variant_id FROM inventory WHERE variant_id = ? FOR UPDATE', [co.variantId]),
      'to commit the held stock in the order’s transaction',
    );
    at.capturing = await stopAfterOrder(
      await prepare(ctx, 'capturing', 2, 2_000),
      async (co) => holdLock(db(), 'SELECT id FROM sim_payment_intents WHERE id = ? FOR UPDATE', [(await intentsOf(co.checkoutKey))[0]!.id]),
      'for the gateway to capture',
    );
    at.captured = await stopAfterOrder(
      await prepare(ctx, 'captured', 1, 3_000),
      (co) => holdLock(db(), 'SELECT id FROM payments WHERE business_key = ? FOR UPDATE', [paymentKey(co.checkoutKey)]),
      'to record the capture',
    );
    // Holds of a few seconds, and the kill right after: the checkout's order step outlives them while it is down.
    at.expiring = (await stopAt(await prepare(shortCtx, 'expiring', 4, 1_000), orderTwin, 'to create its order', shortCtx)).co;

    await killEntry(child);
    for (const lock of locks) await lock.release();
    // Postgres rolls the dead worker's open transactions back as it notices the closed connections.
    await eventually(
      async () => Number(((await db().raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ?', [CHILD_APP])) as { rows: Array<{ n: number }> }).rows[0]!.n) === 0,
      30_000,
      'the killed worker’s sessions gone',
    );
    for (const co of Object.values(at)) {
      atKill[co.label] = {
        orders: await ordersOf(co.cartId),
        holds: await holdsOf(co.cartId),
        intents: (await intentsOf(co.checkoutKey)).map((i) => i.status),
        payment: await paymentStatus(co.checkoutKey),
      };
    }

    // Down longer than the short holds last, then a new worker takes over.
    await new Promise((r) => setTimeout(r, SHORT_TTL_MS + 1_000));
    worker = await startTestWorker(ctx.deps);
  }, 150_000);

  afterAll(async () => {
    for (const lock of locks) await lock.release().catch(() => undefined);
    if (child && child.child.exitCode === null && child.child.signalCode === null) await killEntry(child);
    await worker?.stop();
    await shortCtx?.close();
    await ctx?.close();
  });

  const confirmed = [{ id: expect.any(String), status: 'confirmed' }];

  it('killed after the holds were confirmed, before the authorization: one confirmed order, one capture of the full amount, stock sold once', async () => {
    expect(atKill.authorizing).toEqual({ orders: [], holds: ['held'], intents: [], payment: undefined });
    await expectOneOrderOneCapture(at.authorizing);
  });

  it('killed after the authorization, before the order was created: one confirmed order, one capture of the full amount, stock sold once', async () => {
    expect(atKill.ordering).toEqual({ orders: [], holds: ['held'], intents: ['requires_capture'], payment: 'requires_capture' });
    await expectOneOrderOneCapture(at.ordering);
  });

  it('killed inside the order’s transaction, its order row written but the stock not yet sold: nothing of it stays; then one confirmed order, one capture of the full amount, stock sold once', async () => {
    expect(atKill.committing).toEqual({ orders: [], holds: ['held'], intents: ['requires_capture'], payment: 'requires_capture' });
    await expectOneOrderOneCapture(at.committing);
  });

  it('killed while the capture was at the gateway (the order placed already): one confirmed order, one capture of the full amount, stock sold once', async () => {
    expect(atKill.capturing).toEqual({ orders: confirmed, holds: ['committed'], intents: ['requires_capture'], payment: 'requires_capture' });
    await expectOneOrderOneCapture(at.capturing, true);
  });

  it('killed after the gateway captured, before the capture was recorded (the order placed already): the retry finds that capture, one order, no second capture', async () => {
    expect(atKill.captured).toEqual({ orders: confirmed, holds: ['committed'], intents: ['succeeded'], payment: 'requires_capture' });
    await expectOneOrderOneCapture(at.captured, true);
  });

  it('killed before the order was created and down longer than the holds last: authorization voided, stock back, 422 checkout_expired', async () => {
    const co = at.expiring;
    expect(atKill.expiring).toEqual({ orders: [], holds: ['held'], intents: ['requires_capture'], payment: 'requires_capture' });
    expect((await co.first).status).toBe(503);

    const res = await replay(shortCtx, co);
    expectProblem(res, 422, 'checkout_expired');
    expect((await intentsOf(co.checkoutKey)).map((i) => i.status)).toEqual(['canceled']);
    expect(await paymentStatus(co.checkoutKey)).toBe('canceled');
    expect((await ordersOf(co.cartId)).filter((o) => o.status !== 'cancelled')).toEqual([]);
    expect(await inventoryOf(ctx, co.variantId)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
    expect(await holdsOf(co.cartId)).toEqual(['released']);

    // As when holds expire with the cart left alone, the released line leaves the cart: adding it again holds
    // it afresh, and a new checkout sells exactly that.
    const cart = await shortCtx.http.get(`/v1/carts/${co.cartId}`).set('Authorization', shopper.auth);
    expect(cart.body.items).toEqual([]);
    const added = await shortCtx.http.post(`/v1/carts/${co.cartId}/items`).set('Authorization', shopper.auth).send({ variant_id: co.variantId, quantity: co.quantity });
    expect(added.status).toBe(200);
    // A fresh key; 503 (the worker still catching up, with this file's 2 s Temporal deadline) means retry it.
    const again = await replay(shortCtx, { ...co, key: randomUUID() });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ status: 'confirmed', total_cents: co.amountCents });
    expect(await inventoryOf(ctx, co.variantId)).toEqual({ total_stock: 10, reserved: 0, sold: co.quantity });
  });
});
