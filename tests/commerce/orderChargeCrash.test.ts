import { randomUUID } from 'node:crypto';
import { issuerPrefix } from '../../src/billing/invoiceNumbers';
import { orderCaptureLedgerKey } from '../../src/commerce/orderCharges';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { makeUser, type TestUser } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { startWorkerProcess, type Running } from '../startup/processHelpers';
import { holdLock, waitUntilBlocked } from './checkoutLocks';
import { createStore, createVariant } from './fixtures';

/**
 * The checkout's step after the capture (the ledger capture line, the seller charge, its balance entries and its
 * receipt, one transaction) with its worker process SIGKILLed inside that transaction: stopped there by a lock the
 * test holds on the store owner's invoice number counter (the receipt's number is taken last), so the kill lands
 * at the same point every run. Nothing of the half-done transaction stays; a new worker runs the step again and
 * records everything once, the receipt numbered 000001 (no number burnt by the dead attempt).
 */
const CHILD_APP = `commerce-charge-crash-${randomUUID().slice(0, 8)}`;

describe('order charge with a killed worker', () => {
  let ctx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  let owner: TestUser;
  let shopper: TestUser;
  let storeId: string;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ TEMPORAL_UPDATE_TIMEOUT: '5s' }));
    owner = await makeUser(ctx.deps, { role: 'merchant' });
    shopper = await makeUser(ctx.deps);
    storeId = await createStore(ctx, owner, 'Charge crash');
  });
  afterAll(async () => {
    if (child && child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await worker?.stop();
    await ctx?.close();
  });

  it('killed inside the charge’s transaction: nothing of it stays, the money stays captured; the next worker records it once', async () => {
    const { db } = ctx.deps;
    const variantId = await createVariant(ctx, owner, storeId, 5, 1_800);
    const cart = await ctx.http.post('/v1/carts').set('Authorization', shopper.auth).send({ store_id: storeId });
    expect((await ctx.http.post(`/v1/carts/${cart.body.id}/items`).set('Authorization', shopper.auth).send({ variant_id: variantId, quantity: 2 })).status).toBe(200);

    // The owner's receipt counter, locked: the step waits there with everything else of its transaction written.
    await db('invoice_number_counters').insert({ issuer_key: owner.id, prefix: issuerPrefix({ kind: 'seller', userId: owner.id }) });
    const lock = await holdLock(db, 'SELECT issuer_key FROM invoice_number_counters WHERE issuer_key = ? FOR UPDATE', [owner.id]);
    try {
      child = startWorkerProcess(ctx.deps.config, { appName: CHILD_APP });
      const res = await eventually(
        async () => {
          const r = await ctx.http
            .post('/v1/checkout')
            .set('Authorization', shopper.auth)
            .set('Idempotency-Key', 'charge-crash')
            .send({ cart_id: cart.body.id, shipping_address: { line1: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' }, payment_method: 'pm_card_visa' });
          return r.status !== 503 && r;
        },
        90_000,
        'the checkout answered (the worker process may still be starting)',
        500,
      );
      expect(res.status).toBe(201);
      const orderId = res.body.id as string;
      await waitUntilBlocked(db, lock, 'the worker recording the charge', { applicationName: CHILD_APP, timeoutMs: 60_000 });

      child.child.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      await lock.release();
      await eventually(
        async () => Number(((await db.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ?', [CHILD_APP])) as { rows: Array<{ n: number }> }).rows[0]!.n) === 0,
        30_000,
        'the killed worker’s sessions gone',
      );

      // Captured, and nothing of the charge's transaction committed.
      const order = await db('orders').where({ id: orderId }).first('payment_key', 'status');
      expect(order.status).toBe('confirmed');
      expect((await db('payments').where({ business_key: order.payment_key }).first('status')).status).toBe('succeeded');
      expect(await db('seller_charges').where({ source_kind: 'order', source_id: orderId }).select('id')).toEqual([]);
      expect(await db('ledger_transactions').where({ order_id: orderId }).select('id')).toEqual([]);
      expect(await db('invoices').where({ source_kind: 'order', source_id: orderId }).select('id')).toEqual([]);

      // A new worker takes the checkout over and records it, once.
      worker = await startTestWorker(ctx.deps);
      const charge = await eventually(() => db('seller_charges').where({ source_kind: 'order', source_id: orderId }).first(), 60_000, 'the charge recorded by the new worker', 250);
      expect(Number(charge.captured_cents)).toBe(3_600);
      const receipt = await db('invoices').where({ id: charge.invoice_id }).first('number', 'total_cents', 'status');
      expect(receipt).toMatchObject({ number: `${issuerPrefix({ kind: 'seller', userId: owner.id })}-000001`, status: 'finalized' });
      expect(Number(receipt.total_cents)).toBe(3_600);
      expect(await db('ledger_transactions').where({ order_id: orderId, kind: 'capture' }).pluck('business_key')).toEqual([orderCaptureLedgerKey(order.payment_key)]);
      expect(await db('balance_entries').where({ charge_id: charge.id }).pluck('kind')).toEqual(expect.arrayContaining(['sale', 'platform_fee']));
      expect(await db('invoices').where({ source_kind: 'order', source_id: orderId }).pluck('id')).toEqual([charge.invoice_id]);
      const client = await ctx.deps.temporal.client();
      await expect(client.workflow.getHandle(`checkout:${order.payment_key.replace(/^checkout:|:authorize$/g, '')}`).result()).resolves.toEqual({ status: 'confirmed', orderId });
    } finally {
      await lock.release();
    }
  }, 240_000);
});
