import { createCampaignActivities } from '../../src/activities/campaigns/campaignLifecycle';
import { feeInvoiceSourceId } from '../../src/billing/contract';
import { feeMonthOf } from '../../src/billing/feeInvoices';
import { issueDeferredPledgeReceipts } from '../../src/billing/pledgeReceipts';
import { createCollection } from '../../src/campaigns/collection';
import { platformFeeCents } from '../../src/domain/platformFees';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makePledges, makeUsers } from '../helpers/fixtures';
import { batchRunner, makeSettlementCampaign, type SettlementCampaign } from '../settlement/fixtures';

/**
 * Deferred pledge receipts (issue 13): a settlement page's collections record their charges without receipts, and
 * issueDeferredPledgeReceipts issues them in bulk: numbered 1..N in charge order without gap or duplicate even with
 * two issuers racing, each charge linked to its receipt, the backer's notice naming it, the fees on the creator's fee
 * invoice; what a crashed attempt left is issued by the next call (the next page, or the campaign's settlement).
 */

let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext(testConfig({ TAX_RATES_BPS: 'default=1900,platform=2000' }));
});
afterAll(async () => {
  await ctx.close();
});

const db = () => ctx.deps.db;
const settings = () => ctx.deps.config;
const fee = (cents: number) => platformFeeCents(cents, { bps: settings().PLATFORM_FEE_CROWDFUNDING_BPS, fixedCents: 0 });

/** A campaign whose n pledges are collected with their receipts deferred (as a settlement page does), none issued. */
async function deferredCampaign(n: number): Promise<{ campaign: SettlementCampaign; amounts: Map<string, number> }> {
  const campaign = await makeSettlementCampaign(ctx.deps);
  const backers = await makeUsers(ctx.deps, n);
  const specs = backers.map((backerId, i) => ({ backerId, amountCents: 1_000 + 37 * i, tierId: campaign.tierId }));
  const ids = await makePledges(ctx.deps, campaign, specs);
  const collection = createCollection(ctx.deps);
  const rows = await collection.pledgesToSettle(campaign.id, 'collect', null, n);
  for (const p of rows) expect((await collection.collectPledge(p, 'deferred')).kind).toBe('collected');
  return { campaign, amounts: new Map(ids.map((id, i) => [id, specs[i]!.amountCents])) };
}

const chargesOf = (campaign: { id: string }) =>
  db()('seller_charges as sc')
    .join('pledges as p', 'p.id', 'sc.source_id')
    .where({ 'p.campaign_id': campaign.id, 'sc.source_kind': 'pledge' })
    .orderBy([{ column: 'sc.created_at' }, { column: 'sc.id' }])
    .select('sc.*', 'p.backer_id');

/** Every charge has its finalized receipt, numbered 1..N in charge order, its notice, and its fee on the fee invoice. */
async function expectAllIssued(campaign: SettlementCampaign, amounts: Map<string, number>) {
  const charges = await chargesOf(campaign);
  expect(charges).toHaveLength(amounts.size);
  const prefix = campaign.ownerId.replace(/-/g, '').slice(0, 8).toUpperCase();
  const { title } = await db()('campaigns').where({ id: campaign.id }).first('title');
  const invoices = await db()('invoices').where({ issuer_user_id: campaign.ownerId, source_kind: 'pledge' });
  expect(invoices).toHaveLength(amounts.size); // no duplicate
  const numbers: string[] = [];
  for (const c of charges) {
    expect(c.invoice_id).not.toBeNull();
    const invoice = invoices.find((i) => i.id === c.invoice_id)!;
    expect(invoice).toMatchObject({ status: 'finalized', source_id: c.source_id, customer_user_id: c.backer_id, total_cents: amounts.get(c.source_id), tax_cents: 0 });
    numbers.push(invoice.number);
    expect(await db()('invoice_lines').where({ invoice_id: invoice.id }).select('position', 'description', 'amount_cents', 'tax_rate_bps')).toEqual([
      { position: 1, description: `Pledge to ${title} (Early bird)`, amount_cents: amounts.get(c.source_id), tax_rate_bps: 0 },
    ]);
    const notices = await db()('notifications').where({ user_id: c.backer_id, type: 'pledge_collected' });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ title: `Your pledge to ${title} was charged`, dedupe_key: `pledge_collected:${c.source_id}` });
    expect(notices[0].data).toEqual({ pledge_id: c.source_id, campaign_id: campaign.id, amount_cents: amounts.get(c.source_id), currency: 'USD', invoice_id: invoice.id, invoice_number: invoice.number });
  }
  // Gapless, in charge order.
  expect(numbers).toEqual(charges.map((_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`));
  // The fee invoice: one line per charge, equal to its fee, totals the sums of its lines.
  const feeInvoice = await db()('invoices').where({ issuer_key: 'platform', source_kind: 'fees', source_id: feeInvoiceSourceId(campaign.ownerId, feeMonthOf(new Date())) }).first();
  const lines = await db()('invoice_lines').where({ invoice_id: feeInvoice.id }).orderBy('position');
  expect(lines.map((l) => l.position)).toEqual(charges.map((_, i) => i + 1));
  expect(lines.map((l) => [l.description, l.unit_amount_cents])).toEqual(charges.map((c) => [`Platform fee: pledge ${c.source_id}`, fee(amounts.get(c.source_id)!)]));
  expect(charges.map((c) => Number(c.fee_cents))).toEqual(charges.map((c) => fee(amounts.get(c.source_id)!)));
  expect(feeInvoice.subtotal_cents).toBe(lines.reduce((s, l) => s + l.amount_cents, 0));
  expect(feeInvoice.tax_cents).toBe(lines.reduce((s, l) => s + l.tax_cents, 0));
}

describe('issueDeferredPledgeReceipts', () => {
  it('deferred collections write no receipt, fee line or notice; two issuers racing issue each receipt once, numbered 1..N without gap', async () => {
    const { campaign, amounts } = await deferredCampaign(23);
    const charges = await chargesOf(campaign);
    expect(charges.every((c) => c.invoice_id === null && !c.receipt_waived)).toBe(true);
    expect(await db()('invoices').where({ issuer_user_id: campaign.ownerId })).toHaveLength(0);
    expect(await db()('notifications').whereIn('user_id', charges.map((c) => c.backer_id)).where({ type: 'pledge_collected' })).toHaveLength(0);
    expect(await db()('invoices').where({ issuer_key: 'platform', source_kind: 'fees', customer_user_id: campaign.ownerId })).toHaveLength(0);

    // Two callers, small pages, at once: each loops until nothing is left.
    const issued = [0, 0];
    const drain = async (k: number) => {
      for (let n = await issueDeferredPledgeReceipts(db(), campaign.id, settings(), 4); n > 0; n = await issueDeferredPledgeReceipts(db(), campaign.id, settings(), 4)) issued[k]! += n;
    };
    await Promise.all([drain(0), drain(1)]);
    expect(issued[0]! + issued[1]!).toBe(23);
    await expectAllIssued(campaign, amounts);
    expect(await issueDeferredPledgeReceipts(db(), campaign.id, settings())).toBe(0);
  });

  it('receipts a crashed attempt left deferred are issued by the next page, and by the settlement of the campaign', async () => {
    // A page whose attempt died after its collections, before its receipts: the resumed batch (nothing left to
    // collect) issues them.
    const first = await deferredCampaign(6);
    const lastId = [...first.amounts.keys()].sort().at(-1)!;
    const { result } = await batchRunner(ctx.deps).run({ campaignId: first.campaign.id, action: 'collect', afterPledgeId: lastId, batchSize: 10 });
    expect(result).toMatchObject({ processed: 0, done: true });
    await expectAllIssued(first.campaign, first.amounts);

    // Never resumed at all: settling the campaign issues them before it settles.
    const second = await deferredCampaign(5);
    await createCampaignActivities(ctx.deps).markCampaignSettled({ campaignId: second.campaign.id });
    await expectAllIssued(second.campaign, second.amounts);
    expect((await db()('campaigns').where({ id: second.campaign.id }).first('status')).status).toBe('settled');
    // Again: nothing more.
    await createCampaignActivities(ctx.deps).markCampaignSettled({ campaignId: second.campaign.id });
    await expectAllIssued(second.campaign, second.amounts);
  });

  it('with ISSUE_RECEIPTS off it issues nothing', async () => {
    expect(await issueDeferredPledgeReceipts(db(), (await makeSettlementCampaign(ctx.deps)).id, { ...settings(), ISSUE_RECEIPTS: false })).toBe(0);
  });
});
