import { randomUUID } from 'node:crypto';
import { holdExpiryWorkflowId } from '../../src/commerce/contract';
import { hotStockKey } from '../../src/commerce/hotStock';
import { createPaymentService } from '../../src/payments/paymentService';
import { createTestContext, startTestWorker, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { ownDatabase } from './ownDatabase';

/**
 * Commerce reconciliation (reconcileCommerce, run by the commerce-reconcile schedule) repairs what a crash left
 * behind. On a database of its own: every other test file's hold-expiry sweepers release due holds of the run's
 * shared database, so an overdue hold planted there might be released before the reconciliation finds it.
 */
describe('commerce reconciliation', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let owner: TestUser;
  let storeId: string;
  let database: Awaited<ReturnType<typeof ownDatabase>>;
  let operator: TestUser;
  const operatorEmail = uniqueEmail('operator');

  beforeAll(async () => {
    database = await ownDatabase('recon');
    // Grace of 10 minutes: what the tests plant as old is an hour old; what they make now stays young on a slow machine.
    ctx = createTestContext(testConfig({ RECONCILE_GRACE: '600', DATABASE_URL: database.url, OPERATOR_EMAILS: operatorEmail }));
    worker = await startTestWorker(ctx.deps);
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    operator = await makeUser(ctx.deps, { email: operatorEmail });
    storeId = (await ctx.http.post('/v1/stores').set('Authorization', owner.auth).send({ name: 'Recon', slug: `r-${randomUUID().slice(0, 8)}`, currency: 'EUR' })).body.id;
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
    await database?.drop();
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

  let lastRunId = '';
  async function reconcile(scope: { storeId: string; paymentKeyPrefix: string }) {
    const client = await ctx.deps.temporal.client();
    lastRunId = `${ctx.deps.config.TASK_QUEUE}:reconcile-${randomUUID()}`;
    return client.workflow.execute('reconcileCommerce', { taskQueue: ctx.deps.config.TASK_QUEUE, workflowId: lastRunId, args: [scope] });
  }

  it('voids an orphaned authorization, releases a stale reservation, starts the missing hold sweepers and corrects a drifted hot counter, once', async () => {
    const { db, redis } = ctx.deps;
    const checkoutKey = randomUUID();
    const scope = { storeId, paymentKeyPrefix: `checkout:${checkoutKey}` };

    // An authorization whose checkout died before creating the order, older than the grace period.
    const businessKey = `checkout:${checkoutKey}:authorize`;
    const auth = await createPaymentService(ctx.deps).authorizePayment({ businessKey, amountCents: 4_200, currency: 'EUR', paymentMethod: 'pm_card_visa' });
    expect(auth.status).toBe('requires_capture');
    await db('payments').where({ business_key: businessKey }).update({ created_at: db.raw(`now() - interval '1 hour'`) });

    // A hold long past its expiry (no sweeper ran: none was ever started here), its units still counted as reserved.
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
    const shards = ctx.deps.config.HOLD_EXPIRY_SHARDS;
    expect(first).toEqual({ authorizationsVoided: 1, reservationsReleased: 1, sweepersStarted: shards, countersCorrected: 1, chargesRecorded: 0 });

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
    expect(metrics.text).toMatch(new RegExp(`reconciliation_repairs_total\\{kind="hold_sweeper_missing"\\} ${shards}\\b`));
    const client = await ctx.deps.temporal.client();
    for (let shard = 0; shard < shards; shard++) {
      expect((await client.workflow.getHandle(holdExpiryWorkflowId(ctx.deps.config.TASK_QUEUE, shard)).describe()).status.name).toBe('RUNNING');
    }

    // Each repair is kept for the operators with the run that made it, and listed under "needs attention" linked to that run.
    const firstRun = lastRunId;
    const kept = (await db('reconciliation_repairs').orderBy('kind').select('domain', 'kind', 'subject', 'count', 'workflow_id')) as Array<{ kind: string; subject: string; count: number }>;
    expect(kept).toEqual([
      { domain: 'commerce', kind: 'hold_sweeper_missing', subject: expect.stringMatching(/^shard\(s\) /), count: shards, workflow_id: firstRun },
      { domain: 'commerce', kind: 'hot_counter_drift', subject: hot, count: 1, workflow_id: firstRun },
      { domain: 'commerce', kind: 'orphaned_authorization', subject: businessKey, count: 1, workflow_id: firstRun },
      { domain: 'commerce', kind: 'stale_reservation', subject: '1 variant(s)', count: 1, workflow_id: firstRun },
    ]);
    const attention = await ctx.http.get('/v1/operator/attention').query({ kind: 'reconciliation_repair' }).set('Authorization', operator.auth);
    expect(attention.status).toBe(200);
    expect(attention.body.data).toHaveLength(4);
    expect(attention.body.data.find((i: { detail: string }) => i.detail === businessKey)).toMatchObject({
      kind: 'reconciliation_repair',
      title: 'commerce reconciliation: orphaned authorization',
      workflow_id: firstRun,
      amount_cents: null,
    });
    expect((await ctx.http.get('/v1/operator/overview').set('Authorization', operator.auth)).body.attention.reconciliation_repair).toBe(4);

    // Nothing left to repair: a second run changes nothing.
    expect(await reconcile(scope)).toEqual({ authorizationsVoided: 0, reservationsReleased: 0, sweepersStarted: 0, countersCorrected: 0, chargesRecorded: 0 });
    expect(Number((await db('reconciliation_repairs').count({ n: '*' }).first())!.n)).toBe(4);
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
    expect(result).toEqual({ authorizationsVoided: 0, reservationsReleased: 0, sweepersStarted: 0, countersCorrected: 0, chargesRecorded: 0 });
    expect((await db('payments').where({ business_key: businessKey }).first('status')).status).toBe('requires_capture');
    expect(await db('reservations').where({ cart_id: cartId }).pluck('status')).toEqual(['held']);
    // Clean up the planted hold so nothing else trips over it.
    await db('reservations').where({ cart_id: cartId }).update({ status: 'released' });
    await db('inventory').where({ variant_id: v }).decrement('reserved', 1);
  });

  it('starts a hold sweeper again after it was terminated', async () => {
    const client = await ctx.deps.temporal.client();
    const sweeper = client.workflow.getHandle(holdExpiryWorkflowId(ctx.deps.config.TASK_QUEUE, 0));
    await sweeper.terminate('test: an operator terminated it');
    expect((await sweeper.describe()).status.name).toBe('TERMINATED');
    const result = await reconcile({ storeId, paymentKeyPrefix: `checkout:${randomUUID()}` });
    expect(result).toMatchObject({ sweepersStarted: 1, reservationsReleased: 0 });
    expect((await client.workflow.getHandle(holdExpiryWorkflowId(ctx.deps.config.TASK_QUEUE, 0)).describe()).status.name).toBe('RUNNING');
  });
});
