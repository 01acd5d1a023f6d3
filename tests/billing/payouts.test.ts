import { randomUUID } from 'node:crypto';
import { sellerBalances } from '../../src/billing/balances';
import { PAYOUT_ACCOUNT_MISSING_NOTICE, PAYOUT_FAILED_NOTICE, PAYOUT_PAID_NOTICE, PAYOUT_RUN_WORKFLOW, payoutsWorkflowId, type PayoutRunInput } from '../../src/billing/contract';
import { preparePayouts, sendPayout } from '../../src/billing/payouts';
import type { PaymentGateway, TransferInput } from '../../src/payments/gateway';
import { SIMULATED_TRANSFER_FAILURE, SimulatedGateway } from '../../src/payments/simulatedGateway';
import { SellerId, Status } from '../../src/temporal/searchAttributes';
import { makeChargeAvailable } from '../../src/billing/charges';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { createStore, createVariant } from '../commerce/fixtures';
import { chargedOrder } from './refundFixtures';
import { makeProvider } from '../bookings/fixtures';
import { makeSeller, noticesOf, payoutsOf, recordRefund, recordSale, transfersTo, type TestSeller } from './payoutFixtures';

/**
 * Payouts: what is available (and only that) moved to the seller's payout account per currency, exactly once per
 * run however often a step runs, refusals reversed and retried on the next run with the seller told, a refund
 * after a payout netted by the next one, nothing moved without a ready account, concurrent runs paying once, an
 * outage retried under the same key; and the workflows (payoutRun → payouts:<seller>) on a real worker.
 */

let ctx: TestContext;
const db = () => ctx.deps.db;
const sim = () => ctx.deps.payments as SimulatedGateway;

beforeAll(() => {
  ctx = createTestContext();
});
afterAll(async () => {
  await ctx.close();
});

/** One run of one seller through the two steps, as the workflow does it. */
async function payOut(seller: { id: string }, runKey = `run-${randomUUID()}`) {
  const plan = await preparePayouts(db(), seller.id, runKey);
  const outcomes = [];
  for (const id of plan.payoutIds) outcomes.push(await sendPayout(ctx.deps, id));
  return { plan, outcomes, runKey };
}

const balance = (seller: { id: string }) => sellerBalances(db(), seller.id);
const ledgerLines = async (payoutIds: string[]) =>
  (await db()('ledger_transactions').whereIn('payout_id', payoutIds).orderBy('id').select('kind', 'amount_cents', 'currency', 'provider', 'business_key')) as unknown[];

describe('a seller’s payout', () => {
  it('moves what is available, per currency, and nothing pending; the balance, the ledger and the transfers agree', async () => {
    const seller = await makeSeller(ctx);
    await recordSale(db(), seller.id, { capturedCents: 10_000, feeCents: 1_000 });
    await recordSale(db(), seller.id, { capturedCents: 5_000, feeCents: 500, availableAt: new Date(Date.now() + 86_400_000) });
    await recordSale(db(), seller.id, { capturedCents: 2_000, feeCents: 0, currency: 'USD' });
    await recordSale(db(), seller.id, { capturedCents: 700, feeCents: 70, availableAt: 'infinity' });

    const { plan, outcomes, runKey } = await payOut(seller);
    expect(plan.outcome).toBe('payouts');
    expect(outcomes.map((o) => [o.currency, o.amountCents, o.status]).sort()).toEqual([
      ['EUR', 9_000, 'paid'],
      ['USD', 2_000, 'paid'],
    ]);
    expect(await balance(seller)).toEqual([
      { currency: 'EUR', pending_cents: 4_500 + 630, available_cents: 0, paid_out_cents: 9_000 },
      { currency: 'USD', pending_cents: 0, available_cents: 0, paid_out_cents: 2_000 },
    ]);
    const keys = [`payout:${seller.id}:EUR:${runKey}`, `payout:${seller.id}:USD:${runKey}`];
    expect((await transfersTo(db(), seller.accountId!)).map((t) => [t.business_key, t.amount_cents, t.currency, t.status]).sort()).toEqual([
      [keys[0], 9_000, 'eur', 'paid'],
      [keys[1], 2_000, 'usd', 'paid'],
    ]);
    const payouts = await payoutsOf(db(), seller.id);
    expect(await db()('payouts').whereIn('id', payouts.map((p) => p.id)).whereNotNull('arrival_at').whereNotNull('transfer_id').count<Array<{ count: number }>>('* as count')).toEqual([{ count: 2 }]);
    expect(((await ledgerLines(payouts.map((p) => p.id))) as Array<{ business_key: string }>).map((l) => l.business_key).sort()).toEqual(keys);
    expect(await ledgerLines(payouts.map((p) => p.id))).toEqual(expect.arrayContaining([{ kind: 'payout', amount_cents: 9_000, currency: 'EUR', provider: 'simulated', business_key: keys[0] }]));
    expect((await noticesOf(db(), seller.id, PAYOUT_PAID_NOTICE)).map((n) => n.data.amount_cents).sort()).toEqual([2_000, 9_000]);
  });

  it('is idempotent: the same run again, or its steps again, pays nothing more; a new run finds nothing due', async () => {
    const seller = await makeSeller(ctx);
    await recordSale(db(), seller.id, { capturedCents: 4_000, feeCents: 400 });
    const first = await payOut(seller);
    // Money that became available after the run's payout waits for the next run, even if the run is retried.
    await recordSale(db(), seller.id, { capturedCents: 1_000 });
    const again = await preparePayouts(db(), seller.id, first.runKey);
    expect(again).toEqual({ outcome: 'nothing_due', payoutIds: [] });
    expect(await sendPayout(ctx.deps, first.plan.payoutIds[0]!)).toEqual(first.outcomes[0]);
    expect((await payoutsOf(db(), seller.id)).map((p) => p.amount_cents)).toEqual([3_600]);
    expect(await transfersTo(db(), seller.accountId!)).toHaveLength(1);
    const next = await payOut(seller);
    expect(next.outcomes.map((o) => [o.amountCents, o.status])).toEqual([[1_000, 'paid']]);
    expect((await payOut(seller)).plan).toEqual({ outcome: 'nothing_due', payoutIds: [] });
    expect(await balance(seller)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 0, paid_out_cents: 4_600 }]);
  });

  it('a refused transfer: the payout fails, its money is back in the available balance, the seller is told (inbox and email); the next run pays it', async () => {
    const seller = await makeSeller(ctx, 'failing');
    await recordSale(db(), seller.id, { capturedCents: 10_000, feeCents: 1_000 });
    const failed = await payOut(seller);
    expect(failed.outcomes).toEqual([{ payoutId: expect.any(String), status: 'failed', amountCents: 9_000, currency: 'EUR', failureCode: SIMULATED_TRANSFER_FAILURE }]);
    const payoutId = failed.outcomes[0]!.payoutId;
    expect(await balance(seller)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 9_000, paid_out_cents: 0 }]);
    expect(await db()('balance_entries').where({ payout_id: payoutId }).orderBy('id').select('kind', 'amount_cents')).toEqual([
      { kind: 'payout', amount_cents: -9_000 },
      { kind: 'payout_reversal', amount_cents: 9_000 },
    ]);
    expect(await ledgerLines([payoutId])).toEqual([]);
    const notices = await noticesOf(db(), seller.id, PAYOUT_FAILED_NOTICE);
    expect(notices).toEqual([{ title: 'Your payout of EUR 90.00 failed', data: { payout_id: payoutId, amount_cents: 9_000, currency: 'EUR', failure_code: SIMULATED_TRANSFER_FAILURE }, dedupe_key: `${PAYOUT_FAILED_NOTICE}:${payoutId}` }]);
    expect(await db()('outbox').where({ dedupe_key: `email:${PAYOUT_FAILED_NOTICE}:${payoutId}` }).count<Array<{ count: number }>>('* as count')).toEqual([{ count: 1 }]);
    // Recording the outcome again (a retried step) reverses nothing twice and tells nobody twice.
    expect(await sendPayout(ctx.deps, payoutId)).toEqual(failed.outcomes[0]);
    expect(await db()('balance_entries').where({ payout_id: payoutId }).count<Array<{ count: number }>>('* as count')).toEqual([{ count: 2 }]);

    await sim().simulateTransferFailure(seller.accountId!, null);
    const retried = await payOut(seller);
    expect(retried.outcomes.map((o) => [o.amountCents, o.status])).toEqual([[9_000, 'paid']]);
    expect((await payoutsOf(db(), seller.id)).map((p) => p.status)).toEqual(['failed', 'paid']);
    expect(await balance(seller)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 0, paid_out_cents: 9_000 }]);
  });

  it('a refund after a payout makes the balance negative: nothing is paid until sales net it, then only the difference', async () => {
    const seller = await makeSeller(ctx);
    const charge = await recordSale(db(), seller.id, { capturedCents: 10_000, feeCents: 1_000 });
    await payOut(seller);
    await recordRefund(ctx.deps, charge, 3_000);
    expect(await balance(seller)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: -3_000, paid_out_cents: 9_000 }]);
    expect((await payOut(seller)).plan).toEqual({ outcome: 'nothing_due', payoutIds: [] });
    await recordSale(db(), seller.id, { capturedCents: 2_000 });
    expect((await payOut(seller)).plan.outcome).toBe('nothing_due');
    await recordSale(db(), seller.id, { capturedCents: 5_000, feeCents: 500 });
    const netted = await payOut(seller);
    expect(netted.outcomes.map((o) => [o.amountCents, o.status])).toEqual([[3_500, 'paid']]);
    expect(await balance(seller)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 0, paid_out_cents: 12_500 }]);
  });

  it('without a ready payout account nothing moves and the seller is told once per run; once ready, the next run pays', async () => {
    const none = await makeSeller(ctx, 'none');
    const pending = await makeSeller(ctx, 'pending');
    for (const s of [none, pending]) await recordSale(db(), s.id, { capturedCents: 2_500 });
    for (const s of [none, pending]) {
      const runKey = `run-${randomUUID()}`;
      expect(await preparePayouts(db(), s.id, runKey)).toEqual({ outcome: 'no_account', payoutIds: [] });
      expect(await preparePayouts(db(), s.id, runKey)).toEqual({ outcome: 'no_account', payoutIds: [] });
      await preparePayouts(db(), s.id, `run-${randomUUID()}`);
      const notices = await noticesOf(db(), s.id, PAYOUT_ACCOUNT_MISSING_NOTICE);
      expect(notices).toHaveLength(2);
      expect(notices[0]!.data).toMatchObject({ balances: [{ currency: 'EUR', amount_cents: 2_500 }] });
      expect(await payoutsOf(db(), s.id)).toEqual([]);
      expect(await balance(s)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 2_500, paid_out_cents: 0 }]);
    }
    // A seller with nothing due is not told anything.
    const idle = await makeSeller(ctx, 'none');
    await preparePayouts(db(), idle.id, `run-${randomUUID()}`);
    expect(await noticesOf(db(), idle.id, PAYOUT_ACCOUNT_MISSING_NOTICE)).toEqual([]);

    await sim().simulateAccountOnboarded(pending.accountId!);
    expect((await ctx.http.get('/v1/me/payout-account').set('Authorization', pending.auth)).body.status).toBe('ready');
    expect((await payOut(pending)).outcomes.map((o) => [o.amountCents, o.status])).toEqual([[2_500, 'paid']]);
  });

  it('a provider’s payout account is the one on its provider row: POST /v1/me/payout-account opens it there, and payouts go to it', async () => {
    const provider = await makeProvider(ctx.deps);
    const opened = await ctx.http.post('/v1/me/payout-account').set('Authorization', provider.owner.auth);
    expect(opened.status).toBe(201);
    expect(opened.body).toEqual({ status: 'ready', account_id: expect.stringMatching(/^acct_/) });
    expect(await db()('providers').where({ id: provider.id }).first('payout_account_id', 'payout_status')).toEqual({ payout_account_id: opened.body.account_id, payout_status: 'ready' });
    expect(await db()('seller_payout_accounts').where({ user_id: provider.owner.id })).toEqual([]);
    const again = await ctx.http.post('/v1/me/payout-account').set('Authorization', provider.owner.auth);
    expect([again.status, again.body]).toEqual([200, opened.body]);
    expect((await ctx.http.get('/v1/me/payout-account').set('Authorization', provider.owner.auth)).body).toEqual(opened.body);

    await recordSale(db(), provider.owner.id, { capturedCents: 5_000, feeCents: 500 });
    expect((await payOut(provider.owner)).outcomes.map((o) => [o.amountCents, o.status])).toEqual([[4_500, 'paid']]);
    expect((await transfersTo(db(), opened.body.account_id)).map((t) => t.amount_cents)).toEqual([4_500]);
  });

  it('concurrent runs for one seller pay once', async () => {
    const seller = await makeSeller(ctx);
    await recordSale(db(), seller.id, { capturedCents: 8_000, feeCents: 800 });
    const plans = await Promise.all(Array.from({ length: 6 }, () => preparePayouts(db(), seller.id, `run-${randomUUID()}`)));
    const ids = [...new Set(plans.flatMap((p) => p.payoutIds))];
    expect(ids).toHaveLength(1);
    const outcomes = await Promise.all(plans.flatMap((p) => p.payoutIds).map((id) => sendPayout(ctx.deps, id)));
    expect(new Set(outcomes.map((o) => JSON.stringify(o)))).toEqual(new Set([JSON.stringify({ payoutId: ids[0], status: 'paid', amountCents: 7_200, currency: 'EUR' })]));
    expect(await transfersTo(db(), seller.accountId!)).toHaveLength(1);
    expect(await ledgerLines(ids)).toHaveLength(1);
    expect(await balance(seller)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: 0, paid_out_cents: 7_200 }]);
  });
});

describe('payoutRun and payouts:<seller> on a real worker', () => {
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  let flaky: TestContext;
  /** Transfers that fail with a network error before reaching the gateway, for the outage test. */
  const outages = new Map<string, number>();

  beforeAll(async () => {
    flaky = createTestContext(testConfig({ PAYMENT_STEP_TIMEOUT: '10s' }));
    const real = flaky.deps.payments;
    const failing: PaymentGateway = Object.assign(Object.create(real) as PaymentGateway, {
      transfer: async (input: TransferInput) => {
        const left = outages.get(input.destinationAccountId) ?? 0;
        if (left > 0) {
          outages.set(input.destinationAccountId, left - 1);
          throw Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' });
        }
        return real.transfer(input);
      },
    });
    flaky.deps.payments = failing;
    worker = await startTestWorker(flaky.deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await flaky?.close();
  });

  async function run(input: PayoutRunInput & { sellerUserIds: string[] }) {
    const client = await flaky.deps.temporal.client();
    const result = await client.workflow.execute(PAYOUT_RUN_WORKFLOW, {
      taskQueue: flaky.deps.config.TASK_QUEUE,
      workflowId: `test-payout-run-${randomUUID()}`,
      args: [input],
    });
    if ((result as { sellers: number }).sellers === 0) return { result: result as { runKey: string; sellers: number }, sellers: [] };
    const sellers = await Promise.all(input.sellerUserIds.map((id) => client.workflow.getHandle(payoutsWorkflowId(id)).result().then(() => client.workflow.getHandle(payoutsWorkflowId(id)).describe())));
    return { result: result as { runKey: string; sellers: number }, sellers };
  }

  it('pays every due seller of the run: paid, refused (reversed, told), or waiting for an account; Status, SellerId and summary say so', async () => {
    const paid = await makeSeller(flaky);
    const refused = await makeSeller(flaky, 'failing');
    const accountless = await makeSeller(flaky, 'none');
    const nothingDue = await makeSeller(flaky);
    for (const s of [paid, refused, accountless]) await recordSale(flaky.deps.db, s.id, { capturedCents: 6_000, feeCents: 600 });
    await recordSale(flaky.deps.db, nothingDue.id, { capturedCents: 6_000, availableAt: 'infinity' });

    const { result, sellers } = await run({ runKey: `run-${randomUUID()}`, pageSize: 2, sellerUserIds: [paid.id, refused.id, accountless.id] });
    expect(result.sellers).toBe(3);
    expect(sellers.map((d) => d.typedSearchAttributes.get(Status))).toEqual(['paid', 'failed', 'waiting_for_account']);
    expect(sellers.map((d) => d.typedSearchAttributes.get(SellerId))).toEqual([paid.id, refused.id, accountless.id]);
    expect(await sellers[0]!.staticSummary()).toBe(`Payouts to seller ${paid.id}: each run pays out the available balance per currency`);
    expect((await payoutsOf(flaky.deps.db, paid.id)).map((p) => [p.amount_cents, p.status])).toEqual([[5_400, 'paid']]);
    expect((await payoutsOf(flaky.deps.db, refused.id)).map((p) => [p.amount_cents, p.status, p.failure_code])).toEqual([[5_400, 'failed', SIMULATED_TRANSFER_FAILURE]]);
    expect(await noticesOf(flaky.deps.db, refused.id, PAYOUT_FAILED_NOTICE)).toHaveLength(1);
    expect(await noticesOf(flaky.deps.db, accountless.id, PAYOUT_ACCOUNT_MISSING_NOTICE)).toHaveLength(1);
    expect(await payoutsOf(flaky.deps.db, nothingDue.id)).toEqual([]);

    // The next run: the refused seller's account accepts transfers again, and is paid what came back.
    await (flaky.deps.payments as SimulatedGateway).simulateTransferFailure(refused.accountId!, null);
    const next = await run({ runKey: `run-${randomUUID()}`, sellerUserIds: [paid.id, refused.id, accountless.id] });
    expect(next.result.sellers).toBe(2);
    expect((await payoutsOf(flaky.deps.db, refused.id)).map((p) => [p.amount_cents, p.status])).toEqual([
      [5_400, 'failed'],
      [5_400, 'paid'],
    ]);
    expect(await noticesOf(flaky.deps.db, accountless.id, PAYOUT_ACCOUNT_MISSING_NOTICE)).toHaveLength(2);
    expect((await payoutsOf(flaky.deps.db, paid.id)).map((p) => p.amount_cents)).toEqual([5_400]);
  });

  it('an outage is retried under the same key: one transfer, paid (not a refusal)', async () => {
    const seller: TestSeller = await makeSeller(flaky);
    await recordSale(flaky.deps.db, seller.id, { capturedCents: 3_000 });
    outages.set(seller.accountId!, 2);
    await run({ runKey: `run-${randomUUID()}`, sellerUserIds: [seller.id] });
    expect(outages.get(seller.accountId!)).toBe(0);
    expect((await payoutsOf(flaky.deps.db, seller.id)).map((p) => [p.amount_cents, p.status])).toEqual([[3_000, 'paid']]);
    expect(await transfersTo(flaky.deps.db, seller.accountId!)).toHaveLength(1);
    expect(await flaky.deps.db('payouts').where({ seller_user_id: seller.id }).first('attempts')).toEqual({ attempts: 3 });
  });

  it('end to end through a real checkout: the order’s charge (captured − fee) is paid once available, its fee is on the month’s draft fee invoice, and a refund after the payout is netted by the next one', async () => {
    const merchant = await makeSeller(flaky, 'ready', 'merchant');
    const storeId = await createStore(flaky, merchant, `Payouts ${randomUUID().slice(0, 8)}`);
    const variant = await createVariant(flaky, merchant, storeId, 10, 2_500);
    const charge = async (orderId: string) =>
      (await flaky.deps.db('seller_charges').where({ source_kind: 'order', source_id: orderId }).first('captured_cents', 'fee_cents')) as { captured_cents: number; fee_cents: number };
    const scope = { sellerUserIds: [merchant.id] };

    const first = await chargedOrder(flaky, storeId, [[variant, 2]]);
    const c1 = await charge(first.id);
    expect(Number(c1.fee_cents)).toBeGreaterThan(0);
    const share1 = Number(c1.captured_cents) - Number(c1.fee_cents);
    // Pending until the order's outcome: nothing to pay.
    expect(await balance(merchant)).toEqual([{ currency: 'EUR', pending_cents: share1, available_cents: 0, paid_out_cents: 0 }]);
    expect((await run({ runKey: `run-${randomUUID()}`, ...scope })).result.sellers).toBe(0);

    await makeChargeAvailable(flaky.deps.db, { kind: 'order', id: first.id }, new Date(Date.now() - 1_000));
    await run({ runKey: `run-${randomUUID()}`, ...scope });
    expect((await payoutsOf(flaky.deps.db, merchant.id)).map((p) => [p.amount_cents, p.status])).toEqual([[share1, 'paid']]);
    const fees = await flaky.http.get('/v1/me/fees').set('Authorization', merchant.auth);
    expect(fees.body.data).toEqual([expect.objectContaining({ status: 'draft', issuer: { kind: 'platform', name: expect.any(String) }, subtotal_cents: Number(c1.fee_cents) })]);

    const refund = await flaky.http.post(`/v1/orders/${first.id}/refunds`).set('Authorization', merchant.auth).set('Idempotency-Key', randomUUID()).send({ amount_cents: 1_000, reason: 'damaged' });
    expect(refund.status).toBe(201);
    expect(await balance(merchant)).toEqual([{ currency: 'EUR', pending_cents: 0, available_cents: -1_000, paid_out_cents: share1 }]);

    const second = await chargedOrder(flaky, storeId, [[variant, 1]]);
    const c2 = await charge(second.id);
    await makeChargeAvailable(flaky.deps.db, { kind: 'order', id: second.id }, new Date(Date.now() - 1_000));
    await run({ runKey: `run-${randomUUID()}`, ...scope });
    const share2 = Number(c2.captured_cents) - Number(c2.fee_cents);
    expect((await payoutsOf(flaky.deps.db, merchant.id)).map((p) => [p.amount_cents, p.status])).toEqual([
      [share1, 'paid'],
      [share2 - 1_000, 'paid'],
    ]);
    expect((await flaky.http.get('/v1/me/balance').set('Authorization', merchant.auth)).body.data).toEqual([
      { currency: 'EUR', pending_cents: 0, available_cents: 0, paid_out_cents: share1 + share2 - 1_000 },
    ]);
  });
});
