import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import supertest from 'supertest';
import { createApp } from '../../src/api/app';
import type { AppDeps } from '../../src/api/deps';
import { grantOperator } from '../../src/accounts/operators';
import { recordSellerCharge } from '../../src/billing/charges';
import { BILLING_DIFFERENCES_NOTIFICATION, BILLING_RECONCILIATION_DIFFERENCES_METRIC, RECONCILE_BILLING_WORKFLOW, type BillingDifference, type ReconcileBillingResult } from '../../src/billing/contract';
import { preparePayouts, sendPayout } from '../../src/billing/payouts';
import { createBillingReconciliation } from '../../src/billing/reconciliation';
import { refundCharge } from '../../src/billing/refunds';
import { createPaymentService } from '../../src/payments/paymentService';
import { closeDeps, createTestDeps, startTestWorker, testConfig } from '../helpers/context';
import { bearer, makeCampaign, makeUser } from '../helpers/fixtures';

/**
 * The billing reconciliation (src/billing/reconciliation*.ts) over a real mixed workload: charges recorded by
 * recordSellerCharge on payments taken through the simulated gateway, refunds through refundCharge (credit notes,
 * provider refunds), payouts through preparePayouts/sendPayout (one paid, one refused by the seller's account).
 * Clean, it reports nothing; each planted fault is reported with its kind and ids, and nothing else is. Every
 * test builds its own sellers and checks only them (scope), so the tests never see each other's faults.
 */

let deps: AppDeps;

beforeAll(() => {
  deps = createTestDeps(testConfig({ ISSUE_RECEIPTS: 'true' }));
});
afterAll(async () => {
  await closeDeps(deps);
});

const FEE_BPS = 500;
const feeOf = (cents: number) => Math.round((cents * FEE_BPS) / 10_000);

interface Charged {
  chargeId: string;
  source: { kind: 'pledge'; id: string };
  paymentKey: string;
  capturedCents: number;
  feeCents: number;
  invoiceId: string;
}

/** A pledge row of the seller's campaign (the charge's source: the ledger's lines name it). */
async function pledgeOf(sellerUserId: string, buyerUserId: string, cents: number): Promise<string> {
  let campaign = campaigns.get(sellerUserId);
  if (!campaign) {
    campaign = (await makeCampaign(deps, { ownerId: sellerUserId })).id;
    campaigns.set(sellerUserId, campaign);
  }
  const id = randomUUID();
  await deps.db('pledges').insert({
    id,
    campaign_id: campaign,
    backer_id: buyerUserId,
    amount_cents: cents,
    currency: 'USD',
    status: 'active',
    payment_mode: 'authorize',
    payment_method: 'pm_card_visa',
    payment_key: `pledge:${id}:authorize`,
  });
  return id;
}
const campaigns = new Map<string, string>();

/** A pledge's payment authorized and captured at the simulated gateway, then recorded as the seller's charge (receipt, fee, entries). */
async function charge(sellerUserId: string, buyerUserId: string, cents: number, fee = feeOf(cents)): Promise<Charged> {
  const source = { kind: 'pledge' as const, id: await pledgeOf(sellerUserId, buyerUserId, cents) };
  const paymentKey = `pledge:${source.id}:authorize`;
  const payments = createPaymentService(deps);
  await payments.authorizePayment({ businessKey: paymentKey, amountCents: cents, currency: 'USD', paymentMethod: 'pm_card_visa', customerRef: buyerUserId });
  const captured = await payments.capturePayment({ businessKey: paymentKey });
  expect(captured.status).toBe('succeeded');
  const recorded = await recordSellerCharge(
    deps.db,
    {
      source,
      sellerUserId,
      customer: { userId: buyerUserId },
      currency: 'USD',
      capturedCents: cents,
      feeCents: fee,
      paymentKey,
      receiptLines: [{ description: 'Pledge', quantity: 1, unitAmountCents: cents, taxRateBps: 0 }],
      // available already: payouts can take it
      availableAt: new Date(Date.now() - 60_000),
      ledger: { provider: captured.provider, providerId: captured.providerPaymentId!, pledgeId: source.id },
    },
    deps.config,
  );
  return { chargeId: recorded.chargeId, source, paymentKey, capturedCents: cents, feeCents: fee, invoiceId: recorded.invoiceId! };
}

/** A ready payout account at the simulated gateway (refusing transfers with `failure` when given). */
async function payoutAccount(sellerUserId: string, failure: string | null = null): Promise<void> {
  const accountId = `acct_test${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  await deps.db('sim_connected_accounts').insert({ id: accountId, owner_ref: sellerUserId, country: 'US', status: 'ready', transfer_failure_code: failure });
  await deps.db('seller_payout_accounts').insert({ user_id: sellerUserId, account_id: accountId, status: 'ready', country: 'US' });
}

async function payOut(sellerUserId: string): Promise<string> {
  const plan = await preparePayouts(deps.db, sellerUserId, `test-run-${randomUUID().slice(0, 8)}`);
  expect(plan.payoutIds).toHaveLength(1);
  await sendPayout(deps, plan.payoutIds[0]!);
  return plan.payoutIds[0]!;
}

interface World {
  creator: string;
  provider: string;
  pledges: Charged[];
  bookings: Charged[];
  paidPayout: string;
  failedPayout: string;
  refundNote: string;
  scope: { sellerUserIds: string[] };
}

/**
 * A creator with three pledges collected (one refunded in part, one in full) and paid out; a second seller (the
 * "provider") with two charges (one without a fee) whose payout is refused by its account.
 */
async function world(): Promise<World> {
  const creator = (await makeUser(deps, { role: 'creator' })).id;
  const provider = (await makeUser(deps, { role: 'creator' })).id;
  const buyers = await Promise.all([1, 2, 3].map(() => makeUser(deps)));
  const pledges = [await charge(creator, buyers[0]!.id, 10_000), await charge(creator, buyers[1]!.id, 2_550), await charge(creator, buyers[2]!.id, 777)];
  const bookings = [await charge(provider, buyers[0]!.id, 12_000), await charge(provider, buyers[1]!.id, 5_000, 0)];
  const note = await refundCharge(deps, { source: pledges[0]!.source, amountCents: 2_500, reason: 'Partly refunded', idempotencyKey: `test:${randomUUID()}`, actorUserId: null });
  await refundCharge(deps, { source: pledges[2]!.source, amountCents: 'remaining', reason: 'All refunded', idempotencyKey: `test:${randomUUID()}`, actorUserId: null });
  expect(note!.status).toBe('succeeded');
  await payoutAccount(creator);
  await payoutAccount(provider, 'account_closed');
  const paidPayout = await payOut(creator);
  const failedPayout = await payOut(provider);
  const statuses = await deps.db('payouts').whereIn('id', [paidPayout, failedPayout]).orderBy('amount_cents').pluck('status');
  expect(statuses.sort()).toEqual(['failed', 'paid']);
  return { creator, provider, pledges, bookings, paidPayout, failedPayout, refundNote: note!.id, scope: { sellerUserIds: [creator, provider] } };
}

const reconciliation = () => createBillingReconciliation(deps);
const differencesOf = async (w: World): Promise<BillingDifference[]> => (await reconciliation().checkAll(w.scope)).differences;

/** A change the database's own guards (append-only, frozen invoices) refuse: made as a superuser with triggers off. */
async function bypassingTriggers(sql: string, bindings: Knex.RawBinding[]): Promise<void> {
  await deps.db.transaction(async (trx) => {
    await trx.raw('SET LOCAL session_replication_role = replica');
    const result = (await trx.raw(sql, bindings)) as { rowCount: number };
    expect(result.rowCount).toBe(1);
  });
}

async function metricValue(kind: string): Promise<number> {
  const metric = deps.metrics.registry.getSingleMetric(BILLING_RECONCILIATION_DIFFERENCES_METRIC);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => v.labels.kind === kind).reduce((sum, v) => sum + v.value, 0);
}

describe('billing reconciliation: a clean mixed workload', () => {
  it('reports no difference, having checked every charge, fee invoice, payout and number series of the sellers', async () => {
    const w = await world();
    const { result, differences } = await reconciliation().checkAll(w.scope);
    expect(differences).toEqual([]);
    expect(result.differences).toBe(0);
    // 5 charges; 2 sellers' fee invoices (the provider's fee-less booking counts in none); 2 payouts;
    // number series: each seller's receipts, the creator's credit notes
    expect(result.checked).toEqual({ charges: 5, fee_invoices: 2, payouts: 2, invoice_numbers: 3 });
  });

  it('pages: two charges a page find the same (no difference), each charge checked once', async () => {
    const w = await world();
    const r = reconciliation();
    let after: string | null = null;
    let checked = 0;
    let pages = 0;
    do {
      const step = await r.checkPages({ check: 'charges', scope: w.scope, after, pages: 1, limit: 2 });
      expect(step.byKind).toEqual({});
      checked += step.checked;
      after = step.next;
      pages++;
    } while (after !== null);
    expect(checked).toBe(5);
    expect(pages).toBe(3);

    // A retried activity resumes from its last heartbeat (the step so far): the rest, counted on top of it.
    const beats: number[] = [];
    const first = await r.checkPages({ check: 'charges', scope: w.scope, after: null, pages: 1, limit: 2, beat: (s) => beats.push(s.checked) });
    const rest = await r.checkPages({ check: 'charges', scope: w.scope, after: null, pages: 10, limit: 2, resume: first, beat: (s) => beats.push(s.checked) });
    expect(beats).toEqual([2, 4, 5]);
    expect(rest).toEqual({ check: 'charges', checked: 5, byKind: {}, sample: [], next: null });

    // The other checks' keysets, one row a page: each row once.
    for (const [check, rows] of [['fee_invoices', 2], ['payouts', 2], ['invoice_numbers', 3]] as const) {
      const step = await r.checkPages({ check, scope: w.scope, after: null, pages: 10, limit: 1 });
      expect(step).toEqual({ check, checked: rows, byKind: {}, sample: [], next: null });
    }
  });
});

describe('billing reconciliation: each planted fault is reported with its kind and ids, and nothing else', () => {
  it('a sale entry whose amount was changed behind the append-only trigger', async () => {
    const w = await world();
    const c = w.pledges[1]!;
    const before = await metricValue('sale_entry');
    await bypassingTriggers(`UPDATE balance_entries SET amount_cents = amount_cents + 1 WHERE charge_id = ? AND kind = 'sale'`, [c.chargeId]);
    expect(await differencesOf(w)).toEqual([{ kind: 'sale_entry', ids: { charge_id: c.chargeId, seller_user_id: w.creator }, expected: c.capturedCents, actual: c.capturedCents + 1 }]);
    expect(await metricValue('sale_entry')).toBe(before + 1);
  });

  it("a charge's platform fee line missing from the ledger", async () => {
    const w = await world();
    const c = w.bookings[0]!;
    await deps.db('ledger_transactions').where({ seller_charge_id: c.chargeId, kind: 'platform_fee' }).delete();
    expect(await differencesOf(w)).toEqual([{ kind: 'ledger_fee_line', ids: { charge_id: c.chargeId, seller_user_id: w.provider }, expected: c.feeCents, actual: null }]);
  });

  it('a receipt whose total is off by one (changed behind the frozen-invoice trigger)', async () => {
    const w = await world();
    const c = w.pledges[1]!;
    await bypassingTriggers('UPDATE invoices SET subtotal_cents = subtotal_cents + 1, total_cents = total_cents + 1 WHERE id = ?', [c.invoiceId]);
    expect(await differencesOf(w)).toEqual([
      { kind: 'receipt_total', ids: { charge_id: c.chargeId, seller_user_id: w.creator, invoice_id: c.invoiceId }, expected: c.capturedCents, actual: c.capturedCents + 1 },
    ]);
  });

  it("a refund missing at the gateway (the credit note says succeeded, the gateway has no refund)", async () => {
    const w = await world();
    const note = (await deps.db('credit_notes').where({ id: w.refundNote }).first('provider_refund_id', 'amount_cents')) as { provider_refund_id: string; amount_cents: string };
    await deps.db('sim_refunds').where({ id: note.provider_refund_id }).delete();
    expect(await differencesOf(w)).toEqual([
      {
        kind: 'gateway_refund_missing',
        ids: { charge_id: w.pledges[0]!.chargeId, credit_note_id: w.refundNote, provider_refund_id: note.provider_refund_id },
        expected: Number(note.amount_cents),
        actual: null,
      },
    ]);
  });

  it("a gap in a seller's invoice numbers", async () => {
    const w = await world();
    // A number taken and never used (what a counter bumped outside the finalizing transaction would leave), then one more receipt.
    await deps.db('invoice_number_counters').where({ issuer_key: w.provider }).increment('next_number', 1);
    const buyer = await makeUser(deps);
    await charge(w.provider, buyer.id, 1_000);
    expect(await differencesOf(w)).toEqual([{ kind: 'invoice_number_gap', ids: { issuer_key: w.provider }, expected: 4, actual: 3, detail: 'missing 3' }]);
  });

  it("a line missing from a seller's fee invoice (the open draft)", async () => {
    const w = await world();
    const invoice = (await deps.db('invoices').where({ issuer_key: 'platform', source_kind: 'fees', customer_user_id: w.creator }).first('id')) as { id: string };
    const lines = (await deps.db('invoice_lines').where({ invoice_id: invoice.id }).orderBy('position')) as Array<{ position: number; amount_cents: string }>;
    expect(lines).toHaveLength(3);
    await deps.db('invoice_lines').where({ invoice_id: invoice.id, position: 2 }).delete();
    const fees = w.pledges.reduce((sum, c) => sum + c.feeCents, 0);
    expect(await differencesOf(w)).toEqual([
      { kind: 'fee_invoice_total', ids: { seller_user_id: w.creator, currency: 'USD', invoice_id: invoice.id }, expected: fees, actual: fees - Number(lines[1]!.amount_cents) },
    ]);
  });

  it("a paid payout's transfer missing at the gateway", async () => {
    const w = await world();
    const payout = (await deps.db('payouts').where({ id: w.paidPayout }).first('transfer_id', 'amount_cents')) as { transfer_id: string; amount_cents: string };
    await deps.db('sim_transfers').where({ id: payout.transfer_id }).delete();
    expect(await differencesOf(w)).toEqual([
      { kind: 'payout_transfer', ids: { payout_id: w.paidPayout, seller_user_id: w.creator, transfer_id: payout.transfer_id }, expected: Number(payout.amount_cents), actual: null },
    ]);
  });

  it("a failed payout's reversal entry missing", async () => {
    const w = await world();
    const amount = Number(((await deps.db('payouts').where({ id: w.failedPayout }).first('amount_cents')) as { amount_cents: string }).amount_cents);
    await bypassingTriggers(`DELETE FROM balance_entries WHERE payout_id = ? AND kind = 'payout_reversal'`, [w.failedPayout]);
    expect(await differencesOf(w)).toEqual([
      { kind: 'payout_reversal', ids: { payout_id: w.failedPayout, seller_user_id: w.provider }, expected: amount, actual: null, detail: 'payout failed, 0 reversal entries' },
    ]);
  });

  it("a charge's refunded total that no credit note accounts for", async () => {
    const w = await world();
    const c = w.pledges[0]!;
    await deps.db('seller_charges').where({ id: c.chargeId }).increment('refunded_cents', 100);
    expect(await differencesOf(w)).toEqual([{ kind: 'charge_refunded', ids: { charge_id: c.chargeId, seller_user_id: w.creator }, expected: 2_500, actual: 2_600 }]);
  });

  it("the gateway's payment intent captured less than the payments row says", async () => {
    const w = await world();
    const c = w.bookings[1]!;
    const payment = (await deps.db('payments').where({ business_key: c.paymentKey }).first('provider_payment_id')) as { provider_payment_id: string };
    await deps.db('sim_payment_intents').where({ id: payment.provider_payment_id }).decrement('captured_cents', 1);
    expect(await differencesOf(w)).toEqual([
      { kind: 'gateway_intent', ids: { payment_key: c.paymentKey, charge_id: c.chargeId, intent_id: payment.provider_payment_id }, expected: c.capturedCents, actual: c.capturedCents - 1, detail: 'captured' },
    ]);
  });
});

describe('billing reconciliation: more planted faults, one kind each', () => {
  it('a receipt voided after the charge (a correction must be a credit note)', async () => {
    const w = await world();
    const c = w.bookings[0]!;
    await deps.db('invoices').where({ id: c.invoiceId }).update({ status: 'void', voided_at: deps.db.fn.now() });
    expect(await differencesOf(w)).toEqual([{ kind: 'receipt_status', ids: { charge_id: c.chargeId, seller_user_id: w.provider, invoice_id: c.invoiceId }, expected: 'finalized', actual: 'void' }]);
  });

  it("a succeeded refund's ledger line missing", async () => {
    const w = await world();
    await deps.db('ledger_transactions').where({ credit_note_id: w.refundNote, kind: 'refund' }).delete();
    const note = (await deps.db('credit_notes').where({ id: w.refundNote }).first('provider_refund_id')) as { provider_refund_id: string };
    expect(await differencesOf(w)).toEqual([
      { kind: 'ledger_refund_line', ids: { charge_id: w.pledges[0]!.chargeId, credit_note_id: w.refundNote, provider_refund_id: note.provider_refund_id }, expected: 2_500, actual: null },
    ]);
  });

  it('a refund entry changed behind the append-only trigger', async () => {
    const w = await world();
    await bypassingTriggers(`UPDATE balance_entries SET amount_cents = -2400 WHERE credit_note_id = ? AND kind = 'refund'`, [w.refundNote]);
    expect(await differencesOf(w)).toEqual([{ kind: 'refund_entries', ids: { charge_id: w.pledges[0]!.chargeId, seller_user_id: w.creator }, expected: -2_500, actual: -2_400 }]);
  });

  it("a payout's entry and a paid payout's ledger line missing", async () => {
    const w = await world();
    const amount = Number(((await deps.db('payouts').where({ id: w.paidPayout }).first('amount_cents')) as { amount_cents: string }).amount_cents);
    await bypassingTriggers(`DELETE FROM balance_entries WHERE payout_id = ? AND kind = 'payout'`, [w.paidPayout]);
    await deps.db('ledger_transactions').where({ payout_id: w.paidPayout, kind: 'payout' }).delete();
    expect(await differencesOf(w)).toEqual([
      { kind: 'payout_entries', ids: { payout_id: w.paidPayout, seller_user_id: w.creator }, expected: -amount, actual: null },
      { kind: 'ledger_payout_line', ids: { payout_id: w.paidPayout, seller_user_id: w.creator }, expected: amount, actual: null, detail: 'payout paid, 0 ledger payout lines' },
    ]);
  });
});

describe('reconcileBilling workflow (real worker)', () => {
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  beforeAll(async () => {
    worker = await startTestWorker(deps);
  });
  afterAll(async () => {
    await worker?.stop();
  });

  const run = async (scope: { sellerUserIds: string[] }) => {
    const client = await deps.temporal.client();
    const workflowId = `test-billing-reconcile:${randomUUID()}`;
    const handle = await client.workflow.start(RECONCILE_BILLING_WORKFLOW, { taskQueue: deps.config.TASK_QUEUE, workflowId, args: [{ scope }] });
    return { workflowId, runId: handle.firstExecutionRunId, result: (await handle.result()) as ReconcileBillingResult };
  };

  it('runs every check to the end and tells the operators once about what differs; a clean run tells nobody', async () => {
    const operator = await makeUser(deps, { role: 'backer' });
    await grantOperator(deps.db, operator.email);
    const w = await world();
    const clean = await run(w.scope);
    expect(clean.result).toEqual({ checked: { charges: 5, fee_invoices: 2, payouts: 2, invoice_numbers: 3 }, differences: 0, byKind: {}, sample: [] });

    const c = w.bookings[0]!;
    await deps.db('ledger_transactions').where({ seller_charge_id: c.chargeId, kind: 'platform_fee' }).delete();
    const dirty = await run(w.scope);
    expect(dirty.result).toMatchObject({ differences: 1, byKind: { ledger_fee_line: 1 }, sample: [{ kind: 'ledger_fee_line', ids: { charge_id: c.chargeId } }] });
    const told = (await deps.db('notifications').where({ user_id: operator.id, type: BILLING_DIFFERENCES_NOTIFICATION })) as Array<{ dedupe_key: string; data: { by_kind: Record<string, number> } }>;
    expect(told).toHaveLength(1);
    expect(told[0]!.dedupe_key).toBe(`${BILLING_DIFFERENCES_NOTIFICATION}:${dirty.workflowId}:${dirty.runId}:${operator.id}`);
    expect(told[0]!.data.by_kind).toEqual({ ledger_fee_line: 1 });
  });
});

describe('GET /v1/operator/billing/reconciliation', () => {
  it("runs the check now for an operator (one seller's differences listed); others get 403, a bad seller id 400", async () => {
    const http = supertest(createApp(deps));
    const operator = await makeUser(deps);
    await grantOperator(deps.db, operator.email);
    const seller = await makeUser(deps, { role: 'creator' });
    const w = await world();
    const c = w.pledges[1]!;
    await bypassingTriggers(`UPDATE balance_entries SET amount_cents = amount_cents - 5 WHERE charge_id = ? AND kind = 'platform_fee'`, [c.chargeId]);

    const res = await http.get(`/v1/operator/billing/reconciliation?seller_id=${w.creator}`).set('authorization', bearer(deps, operator.id));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      checked: { charges: 3, fee_invoices: 1, payouts: 1, invoice_numbers: 2 },
      differences: 1,
      by_kind: { fee_entry: 1 },
      data: [{ kind: 'fee_entry', ids: { charge_id: c.chargeId, seller_user_id: w.creator }, expected: -c.feeCents, actual: -c.feeCents - 5 }],
    });
    // The other seller of the world is clean.
    const other = await http.get(`/v1/operator/billing/reconciliation?seller_id=${w.provider}`).set('authorization', bearer(deps, operator.id));
    expect(other.body).toMatchObject({ differences: 0, data: [] });

    expect((await http.get('/v1/operator/billing/reconciliation').set('authorization', seller.auth)).status).toBe(403);
    expect((await http.get('/v1/operator/billing/reconciliation')).status).toBe(401);
    const bad = await http.get('/v1/operator/billing/reconciliation?seller_id=nope').set('authorization', bearer(deps, operator.id));
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});
