import { createCampaignActivities } from '../../src/activities/campaigns/campaignLifecycle';
import { makeChargeAvailable, ReceiptMismatchError, recordSellerCharge } from '../../src/billing/charges';
import { feeInvoiceSourceId } from '../../src/billing/contract';
import { feeMonthOf } from '../../src/billing/feeInvoices';
import { campaignWorkflowId } from '../../src/campaigns/contract';
import { platformFeeCents } from '../../src/domain/platformFees';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bearer, makePledge, makeUser, makeUsers } from '../helpers/fixtures';
import { batchRunner, makeSettlementCampaign } from '../settlement/fixtures';
import { chargeInput, chargeTotals, paymentKeyFor } from './chargeFixtures';

/**
 * Seller charges with real Postgres, the simulated gateway and (for the workflow) a real worker: a collected campaign
 * gives one receipt per pledge from the creator (numbered 1..N without gaps), exact fees, balance entries, ledger fee
 * lines and fee-invoice lines, and a replay adds nothing; settlement fixes when the money is available; the
 * campaign workflow does all of it, and so does a pledge rescued in its dropped-pledge window after settlement.
 */

const DAY = 86_400_000;
let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let runner: ReturnType<typeof batchRunner>;

beforeAll(async () => {
  // A creator tax rate that pledges must NOT get (they are charged as pledged), and a platform rate for fee invoices.
  ctx = createTestContext(testConfig({ TAX_RATES_BPS: 'default=1900,platform=2000', DROPPED_PLEDGE_WINDOW: '1h', REMINDER_INTERVAL: '1h' }));
  worker = await startTestWorker(ctx.deps);
  runner = batchRunner(ctx.deps);
});
afterAll(async () => {
  await worker?.stop();
  await ctx.close();
});

const db = () => ctx.deps.db;
const settings = () => ctx.deps.config;
const fee = (cents: number) => platformFeeCents(cents, { bps: settings().PLATFORM_FEE_CROWDFUNDING_BPS, fixedCents: 0 });
const halfEvenTax = (cents: number, bps: number) => {
  const n = cents * bps;
  const q = Math.floor(n / 10_000);
  const r = n % 10_000;
  return r * 2 > 10_000 || (r * 2 === 10_000 && q % 2 === 1) ? q + 1 : q;
};

async function expectReceiptsFor(campaign: { id: string; ownerId: string }, pledges: Array<{ id: string; backer: string; amount: number }>) {
  const title = ((await db()('campaigns').where({ id: campaign.id }).first('title')) as { title: string }).title;
  const prefix = campaign.ownerId.replace(/-/g, '').slice(0, 8).toUpperCase();
  const charges = await db()('seller_charges').where({ source_kind: 'pledge' }).whereIn('source_id', pledges.map((p) => p.id));
  expect(charges).toHaveLength(pledges.length);
  const invoices = await db()('invoices').whereIn('id', charges.map((c) => c.invoice_id)).orderBy('number');
  // Numbers 1..N per creator, no gap.
  expect(invoices.map((i) => i.number)).toEqual(pledges.map((_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`));
  for (const p of pledges) {
    const c = charges.find((x) => x.source_id === p.id)!;
    expect(c).toMatchObject({ seller_user_id: campaign.ownerId, customer_user_id: p.backer, currency: 'USD', captured_cents: p.amount, fee_cents: fee(p.amount), refunded_cents: 0 });
    const invoice = invoices.find((i) => i.id === c.invoice_id)!;
    expect(invoice).toMatchObject({ status: 'finalized', issuer_user_id: campaign.ownerId, customer_user_id: p.backer, source_kind: 'pledge', source_id: p.id, subtotal_cents: p.amount, tax_cents: 0, total_cents: p.amount });
    expect(await db()('invoice_lines').where({ invoice_id: invoice.id }).select('description', 'quantity', 'unit_amount_cents', 'tax_rate_bps', 'tax_cents')).toEqual([
      { description: `Pledge to ${title} (Early bird)`, quantity: 1, unit_amount_cents: p.amount, tax_rate_bps: 0, tax_cents: 0 },
    ]);
    const entries = await db()('balance_entries').where({ charge_id: c.id }).orderBy('kind', 'desc').select('kind', 'amount_cents', 'business_key');
    expect(entries).toEqual([
      { kind: 'sale', amount_cents: p.amount, business_key: `charge:${c.id}:sale` },
      { kind: 'platform_fee', amount_cents: -fee(p.amount), business_key: `charge:${c.id}:fee` },
    ]);
    expect(await db()('ledger_transactions').where({ seller_charge_id: c.id }).select('kind', 'amount_cents', 'business_key', 'campaign_id', 'pledge_id')).toEqual([
      { kind: 'platform_fee', amount_cents: fee(p.amount), business_key: `fee:${c.id}`, campaign_id: campaign.id, pledge_id: p.id },
    ]);
    const notice = await db()('notifications').where({ user_id: p.backer, type: 'pledge_collected' }).first();
    expect(notice.data).toMatchObject({ pledge_id: p.id, campaign_id: campaign.id, invoice_id: invoice.id, invoice_number: invoice.number, amount_cents: p.amount, currency: 'USD' });
  }
  return charges;
}

describe('a collected campaign', () => {
  it('one receipt per pledge numbered 1..N for the creator, fees and entries exact, fee lines on the creator’s fee invoice; a replay adds nothing; settling makes them available', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps);
    const amounts = [1_230, 1_250, 5_000, 777, 10_001];
    const backers = await makeUsers(ctx.deps, amounts.length);
    const pledges = [];
    for (const [i, amount] of amounts.entries()) {
      const id = await makePledge(ctx.deps, campaign, { backerId: backers[i]!, amountCents: amount, tierId: campaign.tierId, mode: i % 2 ? 'authorize' : 'save_card' });
      pledges.push({ id, backer: backers[i]!, amount });
    }
    expect((await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 })).result).toMatchObject({ collected: 5, failed: 0 });

    const charges = await expectReceiptsFor(campaign, [...pledges].sort((a, b) => (a.id < b.id ? -1 : 1)).map((p) => p));
    // 1230 × 5 % = 61.5 → 62 (even), 1250 → 62.5 → 62, 777 → 38.85 → 39, 10001 → 500.05 → 500.
    expect(amounts.map(fee)).toEqual([62, 62, 250, 39, 500]);
    // Pending until the campaign is settled.
    expect(await db()('seller_charges').whereIn('id', charges.map((c) => c.id)).where('available_at', 'infinity')).toHaveLength(5);
    expect(await db()('balance_entries').whereIn('charge_id', charges.map((c) => c.id)).where('available_at', 'infinity')).toHaveLength(10);

    // The creator's fee invoice of this month: one draft, one line per charge, the platform's 20 % on top per line.
    const month = feeMonthOf(new Date());
    const feeInvoice = await db()('invoices').where({ issuer_key: 'platform', source_kind: 'fees', source_id: feeInvoiceSourceId(campaign.ownerId, month) }).first();
    expect(feeInvoice).toMatchObject({ status: 'draft', customer_user_id: campaign.ownerId, currency: 'USD', subtotal_cents: 913 });
    const lines = await db()('invoice_lines').where({ invoice_id: feeInvoice.id }).orderBy('position');
    expect(lines.map((l) => l.position)).toEqual([1, 2, 3, 4, 5]);
    expect(lines.map((l) => l.unit_amount_cents).sort((a, b) => a - b)).toEqual([39, 62, 62, 250, 500]);
    expect(lines.every((l) => l.tax_rate_bps === 2_000 && l.quantity === 1 && /^Platform fee: pledge /.test(l.description))).toBe(true);
    expect(feeInvoice.tax_cents).toBe([62, 62, 250, 39, 500].reduce((s, f) => s + halfEvenTax(f, 2_000), 0));
    expect(feeInvoice.total_cents).toBe(feeInvoice.subtotal_cents + feeInvoice.tax_cents);

    // Replays: the batch again, and the charge itself again: nothing added.
    const before = await chargeTotals(ctx.deps, campaign.ownerId);
    expect(before).toEqual({ charges: 5, entries: 10, ledgerFees: 5, invoices: 5, feeLines: 5 });
    await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
    const first = charges[0]!;
    const again = await recordSellerCharge(
      db(),
      chargeInput({ source: { kind: 'pledge', id: first.source_id }, sellerUserId: campaign.ownerId, customer: { userId: first.customer_user_id }, paymentKey: first.payment_key, capturedCents: Number(first.captured_cents) }),
      settings(),
    );
    const firstNumber = (await db()('invoices').where({ id: first.invoice_id }).first('number')).number;
    expect(again).toEqual({ chargeId: first.id, invoiceId: first.invoice_id, invoiceNumber: firstNumber, created: false });
    expect(await chargeTotals(ctx.deps, campaign.ownerId)).toEqual(before);
    expect(await db()('notifications').whereIn('user_id', backers).where({ type: 'pledge_collected' })).toHaveLength(5);

    // Settled: available PAYOUT_DELAY_CAMPAIGN after settled_at, charges and their entries alike; again changes nothing.
    await createCampaignActivities(ctx.deps).markCampaignSettled({ campaignId: campaign.id });
    const { settled_at } = await db()('campaigns').where({ id: campaign.id }).first('settled_at');
    const expected = settled_at.getTime() + settings().PAYOUT_DELAY_CAMPAIGN;
    expect(settings().PAYOUT_DELAY_CAMPAIGN).toBe(14 * DAY);
    const after = await db()('seller_charges').whereIn('id', charges.map((c) => c.id));
    expect(after.map((c) => c.available_at.getTime())).toEqual(after.map(() => expected));
    const entries = await db()('balance_entries').whereIn('charge_id', charges.map((c) => c.id));
    expect(entries.map((e) => e.available_at.getTime())).toEqual(entries.map(() => expected));
    await makeChargeAvailable(db(), { kind: 'pledge', id: first.source_id }, new Date());
    expect((await db()('seller_charges').where({ id: first.id }).first()).available_at.getTime()).toBe(expected);
  });
});

describe('recordSellerCharge', () => {
  let seller: { id: string };
  let buyer: { id: string };
  let paymentKey: string;
  beforeAll(async () => {
    seller = await makeUser(ctx.deps, { role: 'merchant' });
    buyer = await makeUser(ctx.deps);
    paymentKey = await paymentKeyFor(ctx.deps);
  });

  it('a guest’s receipt, tax quoted on top (the line’s rate over the seller’s), available at the date given', async () => {
    const at = new Date(Date.now() + 7 * DAY);
    const r = await recordSellerCharge(
      db(),
      chargeInput({
        sellerUserId: seller.id,
        customer: { email: 'guest@example.test', name: 'Gia Guest' },
        paymentKey,
        capturedCents: 1_285,
        feeCents: 200,
        receiptLines: [
          { description: 'Mug', quantity: 2, unitAmountCents: 500, taxRateBps: 700 }, // 1000 + 70
          { description: 'Shipping', quantity: 1, unitAmountCents: 215, taxRateBps: 0 },
        ],
        availableAt: at,
      }),
      settings(),
    );
    expect(r.created).toBe(true);
    const invoice = await db()('invoices').where({ id: r.invoiceId }).first();
    expect(invoice).toMatchObject({ status: 'finalized', customer_user_id: null, customer_email: 'guest@example.test', customer_name: 'Gia Guest', subtotal_cents: 1_215, tax_cents: 70, total_cents: 1_285 });
    const charge = await db()('seller_charges').where({ id: r.chargeId }).first();
    expect(charge).toMatchObject({ customer_user_id: null, captured_cents: 1_285, fee_cents: 200, invoice_id: r.invoiceId });
    expect(charge.available_at.getTime()).toBe(at.getTime());
    expect((await db()('balance_entries').where({ charge_id: r.chargeId })).map((e) => e.available_at.getTime())).toEqual([at.getTime(), at.getTime()]);
  });

  it('a receipt that does not add up to what was captured is refused and nothing is written', async () => {
    const before = await chargeTotals(ctx.deps, seller.id);
    const input = chargeInput({ sellerUserId: seller.id, customer: { userId: buyer.id }, paymentKey, capturedCents: 1_000, receiptLines: [{ description: 'Short', quantity: 1, unitAmountCents: 999 }] });
    // The line has no rate of its own: the seller's configured 19 % applies, 999 + 190 ≠ 1000.
    await expect(recordSellerCharge(db(), input, settings())).rejects.toBeInstanceOf(ReceiptMismatchError);
    expect(await chargeTotals(ctx.deps, seller.id)).toEqual(before);
    expect(await db()('seller_charges').where({ source_id: input.source.id })).toHaveLength(0);
  });

  it('in the caller’s transaction: rolled back with it', async () => {
    const before = await chargeTotals(ctx.deps, seller.id);
    const input = chargeInput({ sellerUserId: seller.id, customer: { userId: buyer.id }, paymentKey });
    await expect(
      db().transaction(async (trx) => {
        await recordSellerCharge(trx, input, settings());
        throw new Error('the capture failed to record');
      }),
    ).rejects.toThrow('the capture failed to record');
    expect(await chargeTotals(ctx.deps, seller.id)).toEqual(before);
  });

  it('no fee: no fee entry, ledger line or fee-invoice line; ISSUE_RECEIPTS off: no receipt and no fee line', async () => {
    const before = await chargeTotals(ctx.deps, seller.id);
    const free = await recordSellerCharge(db(), chargeInput({ sellerUserId: seller.id, customer: { userId: buyer.id }, paymentKey, feeCents: 0 }), settings());
    expect(await db()('balance_entries').where({ charge_id: free.chargeId }).select('kind')).toEqual([{ kind: 'sale' }]);
    expect(await chargeTotals(ctx.deps, seller.id)).toEqual({ ...before, charges: before.charges + 1, entries: before.entries + 1, invoices: before.invoices + 1 });

    const silent = await recordSellerCharge(db(), chargeInput({ sellerUserId: seller.id, customer: { userId: buyer.id }, paymentKey, feeCents: 300 }), { ...settings(), ISSUE_RECEIPTS: false });
    expect(silent).toMatchObject({ invoiceId: null, created: true });
    expect(await db()('balance_entries').where({ charge_id: silent.chargeId }).orderBy('kind', 'desc').select('kind', 'amount_cents')).toEqual([
      { kind: 'sale', amount_cents: 2_500 },
      { kind: 'platform_fee', amount_cents: -300 },
    ]);
    expect(await chargeTotals(ctx.deps, seller.id)).toEqual({ ...before, charges: before.charges + 2, entries: before.entries + 3, invoices: before.invoices + 1, ledgerFees: before.ledgerFees + 1 });
  });

  it('refuses a fee above the charge, a non-positive capture, no lines or a line rate above 100 % (422), writing nothing', async () => {
    const before = await chargeTotals(ctx.deps, seller.id);
    const badRate = [{ description: 'Thing', quantity: 1, unitAmountCents: 2_500, taxRateBps: 10_001 }];
    for (const bad of [{ feeCents: 2_501 }, { capturedCents: 0 }, { feeCents: -1 }, { receiptLines: [] }, { receiptLines: badRate }]) {
      await expect(recordSellerCharge(db(), chargeInput({ sellerUserId: seller.id, customer: { userId: buyer.id }, paymentKey, ...bad }), settings())).rejects.toMatchObject({ kind: 'invalid' });
    }
    expect(await chargeTotals(ctx.deps, seller.id)).toEqual(before);
  });
});

describe('through the campaign workflow', () => {
  it('settlement issues the receipts and makes the money available; a pledge rescued after settlement is available at once on the same date', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps);
    const [a, b, rescuer] = await makeUsers(ctx.deps, 3);
    const ok = [
      { id: await makePledge(ctx.deps, campaign, { backerId: a!, amountCents: 2_000, tierId: campaign.tierId }), backer: a!, amount: 2_000 },
      { id: await makePledge(ctx.deps, campaign, { backerId: b!, amountCents: 3_000, tierId: campaign.tierId, mode: 'authorize' }), backer: b!, amount: 3_000 },
    ].sort((x, y) => (x.id < y.id ? -1 : 1));
    const failing = await makePledge(ctx.deps, campaign, { backerId: rescuer!, amountCents: 4_000, tierId: campaign.tierId, paymentMethod: 'pm_card_chargeCustomerFail' });

    const client = await ctx.deps.temporal.client();
    const handle = await client.workflow.start('campaignLifecycle', {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: campaignWorkflowId(campaign.id),
      args: [
        {
          campaignId: campaign.id,
          title: 'Settled by the workflow',
          goalCents: 1_000,
          currency: 'USD',
          endsAt: new Date(Date.now() - 1_000).toISOString(),
          phase: 'settling',
          settlement: { action: 'collect', outcome: 'succeeded', afterPledgeId: null, processed: 0, collected: 0, failed: 0, voided: 0, pledgedCents: 9_000, backerCount: 3 },
        },
      ],
    });
    expect(await handle.result()).toMatchObject({ outcome: 'succeeded', collected: 2, failed: 1 });
    const charges = await expectReceiptsFor(campaign, ok);
    const { settled_at } = await db()('campaigns').where({ id: campaign.id }).first('settled_at');
    const expected = settled_at.getTime() + ctx.deps.config.PAYOUT_DELAY_CAMPAIGN;
    expect(charges.map((c) => c.available_at.getTime())).toEqual([expected, expected]);

    // The backer gives a card that works: collected in the window, receipt number 3, available on the campaign's date.
    const res = await ctx.http.put(`/v1/pledges/${failing}/payment-method`).set('Authorization', bearer(ctx.deps, rescuer!)).send({ payment_method: 'pm_card_visa' });
    expect(res.body).toMatchObject({ status: 'collected' });
    const rescued = await db()('seller_charges').where({ source_kind: 'pledge', source_id: failing }).first();
    expect(rescued).toMatchObject({ captured_cents: 4_000, fee_cents: 200 });
    expect(rescued.available_at.getTime()).toBe(expected);
    const receipt = await db()('invoices').where({ id: rescued.invoice_id }).first();
    expect(receipt.number).toMatch(/-000003$/);
    expect(receipt.total_cents).toBe(4_000);
  }, 60_000);
});

