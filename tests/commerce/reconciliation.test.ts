import { randomUUID } from 'node:crypto';
import { hotStockKey } from '../../src/commerce/hotStock';
import { createPaymentService } from '../../src/payments/paymentService';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';

/** Commerce reconciliation (reconcileCommerce, run by the commerce-reconcile schedule) repairs what a crash left behind. */
describe('commerce reconciliation', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let owner: TestUser;
  let storeId: string;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ RECONCILE_GRACE: '1' }));
    worker = await startTestWorker(ctx.deps);
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    storeId = (await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Recon', slug: `r-${randomUUID().slice(0, 8)}`, currency: 'EUR' })).body.id;
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
  });

  async function variant(stock: number, hot: boolean): Promise<string> {
    const res = await ctx.http
      .post(`/v1/stores/${storeId}/products`)
      .set('Authorization', owner.auth)
      .send({ name: `Recon ${randomUUID().slice(0, 6)}`, base_price_cents: 1_000, variants: [{ sku: `R-${randomUUID().slice(0, 8)}`, attributes: {}, inventory_count: stock, hot }] });
    expect(res.status).toBe(201);
    return res.body.variants[0].id;
  }
  const inventory = (v: string) => ctx.deps.db('inventory').where({ variant_id: v }).first('total_stock', 'reserved', 'sold');

  async function reconcile(scope: { storeId: string; paymentKeyPrefix: string }) {
    const client = await ctx.deps.temporal.client();
    return client.workflow.execute('reconcileCommerce', {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: `${ctx.deps.config.TASK_QUEUE}:reconcile-${randomUUID()}`,
      args: [scope],
    });
  }

  it('voids an orphaned authorization, releases a stale reservation and corrects a drifted hot counter, once', async () => {
    const { db, redis } = ctx.deps;
    const checkoutKey = randomUUID();
    const scope = { storeId, paymentKeyPrefix: `checkout:${checkoutKey}` };

    // An authorization whose checkout died before creating the order, older than the grace period.
    const businessKey = `checkout:${checkoutKey}:authorize`;
    const auth = await createPaymentService(ctx.deps).authorizePayment({ businessKey, amountCents: 4_200, currency: 'EUR', paymentMethod: 'pm_card_visa' });
    expect(auth.status).toBe('requires_capture');
    await db('payments').where({ business_key: businessKey }).update({ created_at: db.raw(`now() - interval '1 hour'`) });

    // A hold for a cart that has no workflow, long expired, with its units still counted as reserved.
    const v = await variant(10, false);
    const cartId = randomUUID();
    await db.transaction(async (trx) => {
      await trx('reservations').insert({
        store_id: storeId,
        variant_id: v,
        cart_id: cartId,
        quantity: 3,
        status: 'held',
        expires_at: trx.raw(`now() - interval '1 hour'`),
        created_at: trx.raw(`now() - interval '2 hours'`),
      });
      await trx('inventory').where({ variant_id: v }).increment('reserved', 3);
    });
    expect(await inventory(v)).toMatchObject({ reserved: 3 });

    // A hot variant whose Redis counter drifted from Postgres (7 free, Redis believes 2).
    const hot = await variant(7, true);
    await redis.set(hotStockKey(hot), 2, 'EX', 60);

    const first = await reconcile(scope);
    expect(first).toEqual({ authorizationsVoided: 1, reservationsReleased: 1, countersCorrected: 1 });

    const payment = await db('payments').where({ business_key: businessKey }).first('status', 'provider_payment_id');
    expect(payment.status).toBe('canceled');
    const intent = await db('sim_payment_intents').where({ id: payment.provider_payment_id }).first('status');
    expect(intent.status).toBe('canceled');

    expect(await db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['released']);
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });

    expect(Number(await redis.get(hotStockKey(hot)))).toBe(7);
    expect(await redis.ttl(hotStockKey(hot))).toBeGreaterThan(0);

    const metrics = await ctx.http.get('/metrics');
    expect(metrics.status).toBe(200);
    for (const kind of ['orphaned_authorization', 'stale_reservation', 'hot_counter_drift']) {
      expect(metrics.text).toMatch(new RegExp(`reconciliation_repairs_total\\{kind="${kind}"\\} 1\\b`));
    }

    // Nothing left to repair: a second run changes nothing.
    expect(await reconcile(scope)).toEqual({ authorizationsVoided: 0, reservationsReleased: 0, countersCorrected: 0 });
    expect(await inventory(v)).toEqual({ total_stock: 10, reserved: 0, sold: 0 });
    expect(Number(await redis.get(hotStockKey(hot)))).toBe(7);
  });

  it('leaves alone an authorization inside the grace period and a young, unexpired hold', async () => {
    const { db } = ctx.deps;
    const checkoutKey = randomUUID();
    const businessKey = `checkout:${checkoutKey}:authorize`;
    // Young authorization (inside the grace period): left alone.
    await createPaymentService(ctx.deps).authorizePayment({ businessKey, amountCents: 1_000, currency: 'EUR', paymentMethod: 'pm_card_visa' });
    const v = await variant(5, false);
    const cartId = randomUUID();
    await db('reservations').insert({ store_id: storeId, variant_id: v, cart_id: cartId, quantity: 1, status: 'held', expires_at: db.raw(`now() + interval '1 hour'`) });
    await db('inventory').where({ variant_id: v }).increment('reserved', 1);

    const result = await reconcile({ storeId, paymentKeyPrefix: `checkout:${checkoutKey}` });
    expect(result).toEqual({ authorizationsVoided: 0, reservationsReleased: 0, countersCorrected: 0 });
    expect((await db('payments').where({ business_key: businessKey }).first('status')).status).toBe('requires_capture');
    expect(await db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['held']);
    // Clean up the planted hold so nothing else trips over it.
    await db('reservations').where({ cart_id: cartId }).update({ status: 'released' });
    await db('inventory').where({ variant_id: v }).decrement('reserved', 1);
  });
});
