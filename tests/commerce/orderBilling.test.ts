import { randomUUID } from 'node:crypto';
import { createBillingReconciliation } from '../../src/billing/reconciliation';
import { placeCheckoutOrder } from '../../src/commerce/checkoutOrders';
import { OrderBeingCancelledError, orderCaptureLedgerKey, recordOrderCharge } from '../../src/commerce/orderCharges';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { createStore, createVariant, inventoryOf } from './fixtures';

/**
 * A store order's billing (issue 13): tax on top at checkout (the store owner's TAX_RATES_BPS rate, per line
 * half-even; authorized = captured = receipt total = subtotal + tax), its usage event (GMV) once per order under
 * retries and races, its capture line, seller charge and receipt once per order (a replayed checkout, a repeated
 * step), guests' receipts by email, the money made available when the order is delivered, and the commerce
 * reconciliation recording a charge the checkout never did.
 */
const RATE_BPS = 825; // the taxed store owner's own rate
const DEFAULT_RATE_BPS = 1_000; // everyone else's (TAX_RATES_BPS default)
const DAY_MS = 86_400_000;

describe('order billing', () => {
  let base: TestContext;
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let owner: TestUser;
  let storeId: string;

  const address = { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' };
  const withAuth = <T extends { set(k: string, v: string): T }>(r: T, auth?: string) => (auth ? r.set('Authorization', auth) : r);

  async function cartWith(store: string, lines: Array<[string, number]>, auth?: string): Promise<string> {
    const created = await withAuth(ctx.http.post('/v1/carts'), auth).send({ store_id: store });
    expect(created.status).toBe(201);
    for (const [v, n] of lines) expect((await withAuth(ctx.http.post(`/v1/carts/${created.body.id}/items`), auth).send({ variant_id: v, quantity: n })).status).toBe(200);
    return created.body.id;
  }
  const checkout = (cartId: string, key: string, auth?: string, extra: object = {}) =>
    withAuth(ctx.http.post('/v1/checkout'), auth).set('Idempotency-Key', key).send({ cart_id: cartId, shipping_address: address, payment_method: 'pm_card_visa', ...extra });

  const chargeOf = (orderId: string) => ctx.deps.db('seller_charges').where({ source_kind: 'order', source_id: orderId }).first();
  const recordedCharge = (orderId: string) => eventually(() => chargeOf(orderId), 20_000, `the charge of order ${orderId}`);
  const usageOf = (orderId: string) => ctx.deps.db('usage_events').where({ kind: 'gmv', source_id: orderId }).select();
  const counts = async (orderId: string) => {
    const db = ctx.deps.db;
    const n = async (q: Promise<Array<{ n: string | number }>>) => Number((await q)[0]!.n);
    return {
      charges: await n(db('seller_charges').where({ source_kind: 'order', source_id: orderId }).count({ n: '*' })),
      receipts: await n(db('invoices').where({ source_kind: 'order', source_id: orderId }).count({ n: '*' })),
      captureLines: await n(db('ledger_transactions').where({ order_id: orderId, kind: 'capture' }).count({ n: '*' })),
      usageEvents: await n(db('usage_events').where({ kind: 'gmv', source_id: orderId }).count({ n: '*' })),
      saleEntries: await n(db('balance_entries').join('seller_charges as c', 'c.id', 'balance_entries.charge_id').where({ 'c.source_id': orderId, 'balance_entries.kind': 'sale' }).count({ n: '*' })),
    };
  };
  const ONCE = { charges: 1, receipts: 1, captureLines: 1, usageEvents: 1, saleEntries: 1 };

  beforeAll(async () => {
    base = createTestContext(testConfig());
    owner = await makeUser(base.deps, { role: 'merchant' });
    // The same API and task queue, with the taxed owner's own rate and a default for every other issuer.
    ctx = createTestContext(
      testConfig({ TASK_QUEUE: base.deps.config.TASK_QUEUE, JWT_SECRET: base.deps.config.JWT_SECRET, TAX_RATES_BPS: `default=${DEFAULT_RATE_BPS},${owner.id}=${RATE_BPS}`, RECONCILE_GRACE: '600' }),
    );
    worker = await startTestWorker(ctx.deps);
    storeId = await createStore(ctx, owner, 'Taxed');
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
    await base?.close();
  });

  it('adds the owner’s tax on top, per line half-even: authorized = captured = receipt total = subtotal + tax; fee from the usage event', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await createVariant(ctx, owner, storeId, 10, 1_255);
    const w = await createVariant(ctx, owner, storeId, 10, 200);
    // 2 × 1 255 = 2 510 → tax 207.075 → 207; 1 × 200 → 16.5 → 16 (the tie goes to the even cent).
    const res = await checkout(await cartWith(storeId, [[v, 2], [w, 1]], shopper.auth), randomUUID(), shopper.auth);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ subtotal_cents: 2_710, tax_cents: 223, total_cents: 2_933 });
    // Items come in no particular order (as the order view has always listed them).
    expect(res.body.items).toHaveLength(2);
    expect(res.body.items).toEqual(expect.arrayContaining([
      expect.objectContaining({ variant_id: v, quantity: 2, unit_price_cents: 1_255, line_total_cents: 2_510, tax_rate_bps: RATE_BPS, tax_cents: 207 }),
      expect.objectContaining({ variant_id: w, quantity: 1, unit_price_cents: 200, line_total_cents: 200, tax_rate_bps: RATE_BPS, tax_cents: 16 }),
    ]));
    const orderId = res.body.id as string;

    // The gateway authorized and captured the total; the charge and its receipt say the same.
    const charge = await recordedCharge(orderId);
    const order = await ctx.deps.db('orders').where({ id: orderId }).first('payment_key');
    const payment = await ctx.deps.db('payments').where({ business_key: order.payment_key }).first('amount_cents', 'captured_cents', 'provider_payment_id');
    expect([Number(payment.amount_cents), Number(payment.captured_cents)]).toEqual([2_933, 2_933]);
    const intent = await ctx.deps.db('sim_payment_intents').where({ id: payment.provider_payment_id }).first('amount_cents', 'captured_cents', 'status');
    expect({ ...intent, amount_cents: Number(intent.amount_cents), captured_cents: Number(intent.captured_cents) }).toEqual({ amount_cents: 2_933, captured_cents: 2_933, status: 'succeeded' });
    expect(charge).toMatchObject({ seller_user_id: owner.id, customer_user_id: shopper.id, currency: 'EUR', payment_key: order.payment_key });
    expect(Number(charge.captured_cents)).toBe(2_933);
    expect((await ctx.deps.db.raw(`SELECT available_at = 'infinity' AS pending FROM seller_charges WHERE id = ?`, [charge.id])).rows[0].pending).toBe(true);

    const receipt = await ctx.deps.db('invoices').where({ id: charge.invoice_id }).first();
    expect(receipt).toMatchObject({ status: 'finalized', issuer_user_id: owner.id, customer_user_id: shopper.id, source_kind: 'order', source_id: orderId });
    expect([receipt.subtotal_cents, receipt.tax_cents, receipt.total_cents].map(Number)).toEqual([2_710, 223, 2_933]);
    const lines = await ctx.deps.db('invoice_lines').where({ invoice_id: receipt.id }).orderBy('position').select('quantity', 'unit_amount_cents', 'tax_rate_bps', 'tax_cents');
    expect(lines.map((l) => [l.quantity, Number(l.unit_amount_cents), l.tax_rate_bps, Number(l.tax_cents)]).sort((a, b) => b[1]! - a[1]!)).toEqual([
      [2, 1_255, RATE_BPS, 207],
      [1, 200, RATE_BPS, 16],
    ]);

    // GMV before tax; the default plan (basic, 200 bps): 2 710 × 2 % = 54.2 → 54, plus the fixed 30 per order.
    const [usage] = await usageOf(orderId);
    expect(usage).toMatchObject({ store_id: storeId, currency: 'EUR', plan_id: 'basic', fee_bps: 200 });
    expect([usage.amount_cents, usage.fee_fixed_cents, usage.fee_cents].map(Number)).toEqual([2_710, 30, 84]);
    expect(Number(charge.fee_cents)).toBe(84);

    // The capture on the ledger, keyed by the payment.
    const capture = await ctx.deps.db('ledger_transactions').where({ order_id: orderId, kind: 'capture' }).first();
    expect(capture).toMatchObject({ business_key: orderCaptureLedgerKey(order.payment_key), provider_id: payment.provider_payment_id, currency: 'EUR' });
    expect(Number(capture.amount_cents)).toBe(2_933);

    // The shopper's order shows the receipt (the confirmation went out at placement, before the capture).
    const view = await ctx.http.get(`/v1/orders/${orderId}`).set('Authorization', shopper.auth);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ tax_cents: 223, total_cents: 2_933, receipt: { invoice_id: receipt.id, number: receipt.number, url: `/v1/invoices/${receipt.id}` } });
  });

  it('charges other owners at the default rate, and a store on a paid plan at that plan’s fee', async () => {
    const other = await makeUser(ctx.deps, { role: 'merchant' });
    const otherStore = await createStore(ctx, other, 'Default rate');
    const now = Date.now();
    await ctx.deps.db('store_subscriptions').insert({
      store_id: otherStore,
      plan_id: 'grow',
      status: 'active',
      anchor_at: new Date(now),
      current_period_start: new Date(now),
      current_period_end: new Date(now + 30 * DAY_MS),
    });
    const v = await createVariant(ctx, other, otherStore, 5, 1_005);
    const shopper = await makeUser(ctx.deps);
    const res = await checkout(await cartWith(otherStore, [[v, 1]], shopper.auth), randomUUID(), shopper.auth);
    expect(res.status).toBe(201);
    // 1 005 × 10 % = 100.5 → 100 (even).
    expect(res.body).toMatchObject({ subtotal_cents: 1_005, tax_cents: 100, total_cents: 1_105 });
    const charge = await recordedCharge(res.body.id);
    expect(Number(charge.captured_cents)).toBe(1_105);
    // grow: 100 bps of 1 005 = 10.05 → 10, + 30.
    const [usage] = await usageOf(res.body.id);
    expect(usage).toMatchObject({ plan_id: 'grow', fee_bps: 100 });
    expect([Number(usage.fee_cents), Number(charge.fee_cents)]).toEqual([40, 40]);
  });

  it('counts an order’s usage once: the same placement again, and placements racing, make one order and one event', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await createVariant(ctx, owner, storeId, 20, 1_000);
    const place = async (cartId: string, checkoutKey: string) => {
      const reservationIds = (await ctx.deps.db('reservations').where({ cart_id: cartId, status: 'held' }).pluck('id')) as string[];
      return (cartId2: string = cartId) =>
        placeCheckoutOrder(
          ctx.deps.db,
          {
            checkoutKey,
            cartId: cartId2,
            storeId,
            customerId: shopper.id,
            currency: 'EUR',
            items: [{ variant_id: v, quantity: 2, unit_price_cents: 1_000 }],
            taxRateBps: RATE_BPS,
            shippingAddress: address,
            billingAddress: null,
            paymentKey: `checkout:${checkoutKey}:authorize`,
            reservationIds,
            holdsEndAt: Date.now() + 60_000,
          },
          ctx.deps.config,
        );
    };

    // Placed, then placed again (a retried step): one order, one event.
    const sequentialKey = randomUUID();
    const once = await place(await cartWith(storeId, [[v, 2]], shopper.auth), sequentialKey);
    const first = await once();
    const again = await once();
    expect(again).toEqual({ orderId: first.orderId, created: false });
    expect(await usageOf(first.orderId)).toHaveLength(1);

    // Five attempts at once (a step run twice by two workers, say): one order, one event, the stock sold once.
    const racingKey = randomUUID();
    const racing = await place(await cartWith(storeId, [[v, 2]], shopper.auth), racingKey);
    const results = await Promise.all(Array.from({ length: 5 }, () => racing()));
    const ids = new Set(results.map((r) => r.orderId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const [orderId] = [...ids];
    expect(await ctx.deps.db('orders').where({ checkout_key: racingKey }).pluck('id')).toEqual([orderId]);
    const events = await usageOf(orderId!);
    expect(events).toHaveLength(1);
    // GMV before tax: 2 000 (the order's total is 2 000 + 165).
    expect([Number(events[0].amount_cents), Number(events[0].fee_cents)]).toEqual([2_000, 70]);
    expect(await inventoryOf(ctx, v)).toMatchObject({ sold: 4, reserved: 0 });
    const placed = await ctx.deps.db('orders').where({ id: orderId }).first('subtotal_cents', 'tax_cents', 'total_cents');
    expect([placed.subtotal_cents, placed.tax_cents, placed.total_cents].map(Number)).toEqual([2_000, 165, 2_165]);
  });

  it('records one charge and one receipt per order: the checkout replayed under its key, the step repeated and raced', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await createVariant(ctx, owner, storeId, 10, 1_500);
    const key = randomUUID();
    const cartId = await cartWith(storeId, [[v, 1]], shopper.auth);
    const res = await checkout(cartId, key, shopper.auth);
    expect(res.status).toBe(201);
    const orderId = res.body.id as string;
    const charge = await recordedCharge(orderId);

    // The same request again: the same order, nothing recorded twice.
    const replay = await checkout(cartId, key, shopper.auth);
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(orderId);

    // The step itself again, and four at once: each finds the charge.
    expect(await recordOrderCharge(ctx.deps.db, orderId, ctx.deps.config)).toEqual({ status: 'recorded', chargeId: charge.id, invoiceId: charge.invoice_id, created: false });
    const raced = await Promise.all(Array.from({ length: 4 }, () => recordOrderCharge(ctx.deps.db, orderId, ctx.deps.config)));
    expect(raced.every((r) => r.status === 'recorded' && r.chargeId === charge.id && !r.created)).toBe(true);
    expect(await counts(orderId)).toEqual(ONCE);
  });

  it('issues a guest’s receipt to the email they gave; a guest who gave none gets the charge recorded with its receipt waived and its fee on the fee invoice', async () => {
    const v = await createVariant(ctx, owner, storeId, 10, 999);
    const email = `guest-${randomUUID().slice(0, 8)}@example.test`;
    const res = await checkout(await cartWith(storeId, [[v, 1]]), randomUUID(), undefined, { email });
    expect(res.status).toBe(201);
    expect(res.body.customer_id).toBeNull();
    const charge = await recordedCharge(res.body.id);
    expect(charge.customer_user_id).toBeNull();
    const receipt = await ctx.deps.db('invoices').where({ id: charge.invoice_id }).first('customer_user_id', 'customer_email', 'total_cents', 'status');
    // 999 × 8.25 % = 82.4175 → 82.
    expect(receipt).toMatchObject({ customer_user_id: null, customer_email: email, status: 'finalized' });
    expect(Number(receipt.total_cents)).toBe(1_081);

    // A malformed email is bad input: 400, and nothing is held longer or charged.
    const badCart = await cartWith(storeId, [[v, 1]]);
    expectProblem(await checkout(badCart, randomUUID(), undefined, { email: 'not-an-email' }), 400, 'validation_failed');
    expect(await ctx.deps.db('orders').where({ cart_id: badCart }).select('id')).toEqual([]);

    const anonymous = await checkout(await cartWith(storeId, [[v, 1]]), randomUUID());
    expect(anonymous.status).toBe(201);
    const bare = await recordedCharge(anonymous.body.id);
    expect(bare).toMatchObject({ customer_user_id: null, invoice_id: null, receipt_waived: true });
    expect(Number(bare.captured_cents)).toBe(1_081);
    // Nobody to issue a receipt to, but the platform's fee is still invoiced to the seller.
    const feeLine = await ctx.deps.db('invoice_lines').where({ description: `Platform fee: order ${anonymous.body.id}` }).first('unit_amount_cents');
    expect(Number(feeLine.unit_amount_cents)).toBe(Number(bare.fee_cents));
    // And the reconciliation neither asks for the waived receipt nor leaves its fee out of the fee invoices.
    const { differences } = await createBillingReconciliation(ctx.deps).checkAll({ sellerUserIds: [owner.id] });
    expect(differences.filter((d) => d.ids.charge_id === bare.id || d.kind === 'fee_invoice_total')).toEqual([]);
  });

  it('makes the charge available PAYOUT_DELAY_ORDER after the order is delivered, in the delivery’s transaction', async () => {
    const shopper = await makeUser(ctx.deps);
    const v = await createVariant(ctx, owner, storeId, 10, 700);
    const res = await checkout(await cartWith(storeId, [[v, 1]], shopper.auth), randomUUID(), shopper.auth);
    expect(res.status).toBe(201);
    const orderId = res.body.id as string;
    const charge = await recordedCharge(orderId);

    for (const status of ['processing', 'shipped', 'delivered']) {
      expect((await ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', owner.auth).send({ status })).status).toBe(200);
    }
    const delivered = await ctx.deps.db('order_status_history').where({ order_id: orderId, to_status: 'delivered' }).first('created_at');
    const expected = delivered.created_at.getTime() + ctx.deps.config.PAYOUT_DELAY_ORDER;
    expect((await chargeOf(orderId)).available_at.getTime()).toBe(expected);
    const entries = await ctx.deps.db('balance_entries').where({ charge_id: charge.id }).select('kind', 'amount_cents', 'available_at');
    expect(entries.map((e) => e.kind).sort()).toEqual(['platform_fee', 'sale']);
    for (const e of entries) expect(e.available_at.getTime()).toBe(expected);
  });

  describe('with the charge step failing (a planted fault)', () => {
    let faultyOwner: TestUser;
    let faultyStore: string;
    const trigger = `commerce_test_fault_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

    beforeAll(async () => {
      faultyOwner = await makeUser(ctx.deps, { role: 'merchant' });
      faultyStore = await createStore(ctx, faultyOwner, 'Faulty');
    });
    beforeEach(async () => {
      // Every charge of this owner is refused, as an outage of the step would: the checkout's step keeps failing.
      await ctx.deps.db.raw(`DROP FUNCTION IF EXISTS ${trigger}() CASCADE`);
      await ctx.deps.db.raw(`
        CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.seller_user_id = '${faultyOwner.id}' THEN RAISE EXCEPTION 'planted fault: charges of this seller are refused'; END IF;
          RETURN NEW;
        END $$`);
      await ctx.deps.db.raw(`CREATE TRIGGER ${trigger} BEFORE INSERT ON seller_charges FOR EACH ROW EXECUTE FUNCTION ${trigger}()`);
    });
    afterEach(async () => {
      await ctx.deps.db.raw(`DROP TRIGGER IF EXISTS ${trigger} ON seller_charges`);
      await ctx.deps.db.raw(`DROP FUNCTION IF EXISTS ${trigger}()`);
    });

    /** A signed-in shopper's order at the faulty store, once its payment is captured. */
    async function capturedOrder(priceCents: number) {
      const shopper = await makeUser(ctx.deps);
      const v = await createVariant(ctx, faultyOwner, faultyStore, 10, priceCents);
      const res = await checkout(await cartWith(faultyStore, [[v, 1]], shopper.auth), randomUUID(), shopper.auth);
      expect(res.status).toBe(201);
      const orderId = res.body.id as string;
      const order = (await ctx.deps.db('orders').where({ id: orderId }).first('payment_key', 'checkout_key')) as { payment_key: string; checkout_key: string };
      await eventually(async () => (await ctx.deps.db('payments').where({ business_key: order.payment_key }).first('status')).status === 'succeeded', 20_000, 'the capture');
      const client = await ctx.deps.temporal.client();
      return { shopper, orderId, order, checkoutRun: client.workflow.getHandle(`checkout:${order.checkout_key}`) };
    }
    /** A reconciliation run scoped to the faulty store and one payment. */
    async function reconcile(paymentKey: string) {
      const client = await ctx.deps.temporal.client();
      return client.workflow.execute('reconcileCommerce', {
        taskQueue: ctx.deps.config.TASK_QUEUE,
        workflowId: `${ctx.deps.config.TASK_QUEUE}:reconcile-${randomUUID()}`,
        args: [{ storeId: faultyStore, paymentKeyPrefix: paymentKey }],
      });
    }

    it('keeps the capture (never compensated), and the reconciliation records the missing charge once, dated from the delivery', async () => {
      // Captured, and the step after it failing and retried: the money stays taken, the order confirmed.
      const { shopper, orderId, order, checkoutRun: handle } = await capturedOrder(2_000);
      // Its local step fails and is retried (1 s, 2 s, ...): a few seconds on, still running, still no charge.
      await new Promise((r) => setTimeout(r, 3_000));
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(await chargeOf(orderId)).toBeUndefined();
      expect((await ctx.deps.db('payments').where({ business_key: order.payment_key }).first('status')).status).toBe('succeeded');
      expect((await ctx.deps.db('orders').where({ id: orderId }).first('status')).status).toBe('confirmed');

      // The checkout is gone for good (terminated by an operator, say); the order is delivered meanwhile. Its worker
      // is restarted too: a terminated run's local step goes on retrying in the worker until the run is evicted, and
      // with the fault lifted below that retry could record the charge before the reconciliation is asked to.
      await handle.terminate('test: the checkout never records its charge');
      await worker.stop();
      worker = await startTestWorker(ctx.deps);
      for (const status of ['processing', 'shipped', 'delivered']) {
        expect((await ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', faultyOwner.auth).send({ status })).status).toBe(200);
      }
      await ctx.deps.db.raw(`DROP TRIGGER IF EXISTS ${trigger} ON seller_charges`);

      // Within the grace period the capture is the checkout's to record: left alone.
      expect(await reconcile(order.payment_key)).toMatchObject({ chargesRecorded: 0 });
      expect(await chargeOf(orderId)).toBeUndefined();

      await ctx.deps.db('payments').where({ business_key: order.payment_key }).update({ updated_at: ctx.deps.db.raw(`now() - interval '1 hour'`) });
      expect(await reconcile(order.payment_key)).toMatchObject({ chargesRecorded: 1 });
      const charge = await chargeOf(orderId);
      expect(charge).toMatchObject({ seller_user_id: faultyOwner.id, customer_user_id: shopper.id });
      // 2 000 at the default rate (10 %): 2 200 captured.
      expect(Number(charge.captured_cents)).toBe(2_200);
      expect(charge.invoice_id).not.toBeNull();
      const delivered = await ctx.deps.db('order_status_history').where({ order_id: orderId, to_status: 'delivered' }).first('created_at');
      expect(charge.available_at.getTime()).toBe(delivered.created_at.getTime() + ctx.deps.config.PAYOUT_DELAY_ORDER);
      expect(await counts(orderId)).toEqual(ONCE);

      // Repaired: the next run has nothing to do.
      expect(await reconcile(order.payment_key)).toMatchObject({ chargesRecorded: 0 });
      expect(await counts(orderId)).toEqual(ONCE);
      const metrics = await ctx.http.get('/metrics');
      expect(metrics.text).toMatch(/reconciliation_repairs_total\{kind="order_charge_missing"\} 1\b/);
    });

    it('records, for an order without its usage event (placed before billing), the event with the charge, from the store’s plan', async () => {
      const { orderId, checkoutRun } = await capturedOrder(3_000);
      await checkoutRun.terminate('test: the checkout never records its charge');
      await worker.stop();
      worker = await startTestWorker(ctx.deps);
      const [placed] = await usageOf(orderId);
      // As an order placed before billing existed: no usage event.
      await ctx.deps.db('usage_events').where({ kind: 'gmv', source_id: orderId }).delete();
      await ctx.deps.db.raw(`DROP TRIGGER IF EXISTS ${trigger} ON seller_charges`);

      expect(await recordOrderCharge(ctx.deps.db, orderId, ctx.deps.config)).toMatchObject({ status: 'recorded', created: true });
      const [recorded] = await usageOf(orderId);
      expect(recorded).toMatchObject({ plan_id: placed.plan_id, fee_bps: placed.fee_bps, amount_cents: placed.amount_cents, fee_cents: placed.fee_cents });
      expect(Number((await chargeOf(orderId)).fee_cents)).toBe(Number(placed.fee_cents));
      expect(await counts(orderId)).toEqual(ONCE);
    });

    it('records no sale for an order cancelled and refunded before its charge, and waits while a cancellation is under way', async () => {
      const { orderId, order, checkoutRun } = await capturedOrder(1_000);
      // (The planted fault stays: what follows must decide before any charge is written.)
      await checkoutRun.terminate('test: the checkout never records its charge');

      // A cancellation under way (marked, its refund not decided yet): the step waits for it (retryable), records nothing.
      await ctx.deps.db('orders').where({ id: orderId }).update({ cancelling_since: ctx.deps.db.fn.now() });
      await expect(recordOrderCharge(ctx.deps.db, orderId, ctx.deps.config)).rejects.toThrow(OrderBeingCancelledError);
      expect(await chargeOf(orderId)).toBeUndefined();
      await ctx.deps.db('orders').where({ id: orderId }).update({ cancelling_since: null });

      // Cancelled by its owner: no charge yet, so the capture is refunded by the payment's key; then no sale is recorded.
      expect((await ctx.http.post(`/v1/orders/${orderId}/status`).set('Authorization', faultyOwner.auth).send({ status: 'cancelled' })).status).toBe(200);
      expect((await ctx.deps.db('payments').where({ business_key: order.payment_key }).first('status')).status).toBe('refunded');
      expect(await recordOrderCharge(ctx.deps.db, orderId, ctx.deps.config)).toEqual({ status: 'refunded' });
      expect(await chargeOf(orderId)).toBeUndefined();
      // The capture itself is on the ledger; the reconciliation leaves the refunded order alone.
      expect(await ctx.deps.db('ledger_transactions').where({ order_id: orderId, kind: 'capture' }).pluck('amount_cents')).toEqual([expect.anything()]);
      await ctx.deps.db('payments').where({ business_key: order.payment_key }).update({ updated_at: ctx.deps.db.raw(`now() - interval '1 hour'`) });
      expect(await reconcile(order.payment_key)).toMatchObject({ chargesRecorded: 0 });
      expect(await chargeOf(orderId)).toBeUndefined();
    });
  });
});
