import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { AppDeps } from '../../src/api/deps';
import { createSettlementActivities } from '../../src/activities/campaigns/campaignLifecycle';
import { ledgerSummary, recordLedgerEntry } from '../../src/campaigns/ledger';
import type { PaymentGateway } from '../../src/payments/gateway';
import { createPaymentService } from '../../src/payments/paymentService';
import { CampaignId, CustomerId, Status } from '../../src/temporal/searchAttributes';
import { closeDeps, createTestDeps, testConfig } from '../helpers/context';
import { gatewayIntents, makePledge, makePledges, makeUsers, takenByPledge, type PledgeSpec } from '../helpers/fixtures';
import { batchRunner, makeSettlementCampaign, pledgeStatuses } from './fixtures';

/**
 * settlePledgeBatch against the real database and simulated gateway, in a mocked activity context (so
 * heartbeats and cancellation are observable). "Exactly once" is checked in the gateway's own records.
 */

let deps: AppDeps;
let runner: ReturnType<typeof batchRunner>;
const windows: string[] = [];

beforeAll(() => {
  deps = createTestDeps(testConfig({ DROPPED_PLEDGE_WINDOW: '60', REMINDER_INTERVAL: '20', SETTLEMENT_CONCURRENCY: '8' }));
  runner = batchRunner(deps);
});
afterAll(async () => {
  // Nothing serves this file's task queue: close the dropped-pledge windows the tests opened.
  const client = await deps.temporal.client();
  await Promise.all(windows.map((id) => client.workflow.getHandle(id).terminate('test finished').catch(() => undefined)));
  await closeDeps(deps);
});

const specs = (n: number, spec: Omit<PledgeSpec, 'backerId'>, backers: string[]): PledgeSpec[] =>
  Array.from({ length: n }, (_, i) => ({ ...spec, backerId: backers[i]! }));

async function collectedSum(ids: string[]): Promise<number> {
  const [row] = (await deps.db('pledges').whereIn('id', ids).where({ status: 'collected' }).sum({ s: 'collected_cents' })) as Array<{ s: number | null }>;
  return Number(row?.s ?? 0);
}

describe('settlePledgeBatch: collect', () => {
  it('captures holds and charges saved cards exactly once, even when the batch runs twice; a decline opens the dropped-pledge window', async () => {
    const campaign = await makeSettlementCampaign(deps, { status: 'succeeded' });
    const backers = await makeUsers(deps, 8);
    const saved = await makePledges(deps, campaign, specs(4, { mode: 'save_card', amountCents: 1_500 }, backers.slice(0, 4)));
    const held = await makePledges(deps, campaign, specs(3, { mode: 'authorize', amountCents: 2_500 }, backers.slice(4, 7)));
    const failing = await makePledge(deps, campaign, { backerId: backers[7]!, mode: 'save_card', paymentMethod: 'pm_card_chargeCustomerFail', amountCents: 1_000, tierId: campaign.tierId });
    windows.push(`pledge:${failing}`);

    const input = { campaignId: campaign.id, action: 'collect' as const, afterPledgeId: null, batchSize: 50 };
    const first = await runner.run(input);
    expect(first.result).toMatchObject({ done: true, processed: 8, collected: 7, failed: 1, voided: 0 });
    const second = await runner.run(input);
    // Only the failed pledge is revisited (to make sure its window exists); nobody is charged again.
    expect(second.result).toMatchObject({ done: true, processed: 1, collected: 0, failed: 1 });

    const taken = await takenByPledge(deps, [...saved, ...held, failing]);
    for (const id of saved) expect(taken.get(id)).toEqual({ intents: 1, charged: 1, capturedCents: 1_500 });
    for (const id of held) expect(taken.get(id)).toEqual({ intents: 1, charged: 1, capturedCents: 2_500 });
    expect(taken.get(failing)).toEqual({ intents: 1, charged: 0, capturedCents: 0 });
    expect((await gatewayIntents(deps, saved[0]!))[0]).toMatchObject({ off_session: true, business_key: `pledge:${saved[0]}:charge:1` });

    expect(await pledgeStatuses(deps, [...saved, ...held, failing])).toEqual({ collected: 7, payment_failed: 1 });
    expect(await collectedSum([...saved, ...held])).toBe(4 * 1_500 + 3 * 2_500);

    const summary = await ledgerSummary(deps.db, campaign.id);
    expect(summary).toMatchObject({ campaignCollectedCents: 13_500, netCollectedCents: 13_500, reconciled: true });
    expect(summary.byKind).toMatchObject({ charge: 6_000, capture: 7_500, authorization: 7_500, void: 0, refund: 0 });
    const lines = (await deps.db('ledger_transactions').where({ campaign_id: campaign.id }).whereIn('kind', ['capture', 'charge'])) as Array<{
      pledge_id: string;
      provider_id: string;
      business_key: string;
    }>;
    expect(lines).toHaveLength(7);
    expect(lines.every((l) => /^pi_/.test(l.provider_id))).toBe(true);
    expect(lines.map((l) => l.business_key).sort()).toEqual(
      [...saved.map((id) => `pledge:${id}:charge:1`), ...held.map((id) => `pledge:${id}:authorize:capture`)].sort(),
    );

    const failed = await deps.db('pledges').where({ id: failing }).first();
    expect(failed).toMatchObject({ status: 'payment_failed', failure_code: 'card_declined', charge_attempts: 1, last_failed_attempt: 1 });
    expect(failed.drop_deadline.getTime()).toBeGreaterThan(Date.now() + 50_000);
    // The tier slot stays claimed while the backer may still rescue the pledge.
    expect((await deps.db('reward_tiers').where({ id: campaign.tierId }).first()).claimed).toBe(1);
    const notes = await deps.db('notifications').where({ user_id: backers[7], type: 'payment_failed' });
    expect(notes).toHaveLength(1);
    expect(notes[0].dedupe_key).toBe(`payment_failed:${failing}:1`);

    const description = await (await deps.temporal.client()).workflow.getHandle(`pledge:${failing}`).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.type).toBe('droppedPledge');
    expect(description.typedSearchAttributes.get(CustomerId)).toBe(backers[7]);
    expect(description.typedSearchAttributes.get(CampaignId)).toBe(campaign.id);
    expect(description.typedSearchAttributes.get(Status)).toBe('payment_failed');
    expect(await description.staticSummary()).toMatch(new RegExp(`^Dropped-pledge window for pledge ${failing}: \\$10\\.00, drops `));
  });

  it('pages through the campaign by id: each batch continues after the last, and the last one says done', async () => {
    const campaign = await makeSettlementCampaign(deps);
    const backers = await makeUsers(deps, 25);
    const ids = await makePledges(deps, campaign, specs(25, { amountCents: 700 }, backers));
    let cursor: string | null = null;
    const batches: Array<{ lastPledgeId: string | null; processed: number; done: boolean }> = [];
    for (;;) {
      const { result } = await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: cursor, batchSize: 10 });
      batches.push(result);
      cursor = result.lastPledgeId;
      if (result.done) break;
    }
    expect(batches.map((b) => [b.processed, b.done])).toEqual([
      [10, false],
      [10, false],
      [5, true],
    ]);
    expect(batches[2]!.lastPledgeId).toBe([...ids].sort()[24]);
    expect(await pledgeStatuses(deps, ids)).toEqual({ collected: 25 });
    expect((await ledgerSummary(deps.db, campaign.id)).reconciled).toBe(true);
  });

  it('cancelled mid-batch, then resumed from its last heartbeat: 300 pledges, each collected exactly once', async () => {
    const campaign = await makeSettlementCampaign(deps);
    const backers = await makeUsers(deps, 300);
    const ids = await makePledges(
      deps,
      campaign,
      backers.map((backerId, i) => ({ backerId, amountCents: 1_000 + i, mode: i % 3 === 0 ? ('authorize' as const) : ('save_card' as const) })),
    );
    const activities = createSettlementActivities(deps);
    const input = { campaignId: campaign.id, action: 'collect' as const, afterPledgeId: null, batchSize: 300 };

    // First attempt: the worker goes away after ~100 pledges (cancellation is how a worker shutdown reaches it).
    const crashed = new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 });
    const beats: Array<{ lastPledgeId: string | null; processed: number }> = [];
    crashed.on('heartbeat', (d: { lastPledgeId: string | null; processed: number }) => {
      beats.push(d);
      if (beats.length === 100) crashed.cancel();
    });
    await expect(crashed.run(activities.settlePledgeBatch, input)).rejects.toBeInstanceOf(CancelledFailure);
    const last = beats[beats.length - 1]!;
    expect(last.lastPledgeId).not.toBeNull();
    const midway = await pledgeStatuses(deps, ids);
    expect(midway.collected).toBeGreaterThanOrEqual(100);
    expect(midway.active).toBeGreaterThan(0);
    // The cursor is the contiguous prefix: everything up to it is done, whatever ran ahead of it.
    const upToCursor = (await deps.db('pledges').where({ campaign_id: campaign.id }).where('id', '<=', last.lastPledgeId!).select('status')) as Array<{ status: string }>;
    expect(upToCursor.every((p) => p.status === 'collected')).toBe(true);

    // The retry starts from the heartbeat details, as Temporal hands them to the next attempt.
    const { result } = await runner.run(input, last);
    expect(result.done).toBe(true);

    expect(await pledgeStatuses(deps, ids)).toEqual({ collected: 300 });
    const taken = await takenByPledge(deps, ids);
    const amounts = new Map((await deps.db('pledges').whereIn('id', ids).select('id', 'amount_cents')).map((r: { id: string; amount_cents: number }) => [r.id, r.amount_cents]));
    for (const id of ids) expect(taken.get(id)).toEqual({ intents: 1, charged: 1, capturedCents: amounts.get(id) });
    const expected = ids.reduce((s, id) => s + amounts.get(id)!, 0);
    expect(await ledgerSummary(deps.db, campaign.id)).toMatchObject({ campaignCollectedCents: expected, netCollectedCents: expected, reconciled: true });
  }, 120_000);

  it('a charge whose outcome was never recorded (worker died mid-call) is replayed under the same key, not charged again', async () => {
    const campaign = await makeSettlementCampaign(deps);
    const [backer] = await makeUsers(deps, 1);
    const id = await makePledge(deps, campaign, { backerId: backer!, amountCents: 4_200 });
    // What the dead attempt left behind: attempt 1 claimed and the provider charged, nothing recorded on the pledge.
    const pledge = await deps.db('pledges').where({ id }).first();
    await deps.db('pledges').where({ id }).update({ charge_attempts: 1 });
    await createPaymentService(deps).chargeOffSession({
      businessKey: `pledge:${id}:charge:1`,
      amountCents: 4_200,
      currency: 'USD',
      customerId: pledge.provider_customer_id,
      paymentMethod: pledge.provider_payment_method,
      customerRef: backer!,
      metadata: { pledge_id: id, campaign_id: campaign.id },
    });

    const { result } = await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
    expect(result).toMatchObject({ collected: 1, failed: 0 });
    expect((await takenByPledge(deps, [id])).get(id)).toEqual({ intents: 1, charged: 1, capturedCents: 4_200 });
    expect(await deps.db('pledges').where({ id }).first()).toMatchObject({ status: 'collected', collected_cents: 4_200, charge_attempts: 1 });
    expect(await deps.db('payments').whereLike('business_key', `pledge:${id}:charge:%`).pluck('business_key')).toEqual([`pledge:${id}:charge:1`]);
  });

  it('settles 100 pledges with bounded concurrency (several provider calls in flight, never more than SETTLEMENT_CONCURRENCY)', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const gateway = deps.payments;
    const counting: PaymentGateway = Object.assign(Object.create(Object.getPrototypeOf(gateway) as object) as PaymentGateway, gateway, {
      chargeOffSession: async (input: Parameters<PaymentGateway['chargeOffSession']>[0]) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          // A provider round trip takes time; without it the calls would barely overlap.
          await new Promise((r) => setTimeout(r, 20));
          return await gateway.chargeOffSession(input);
        } finally {
          inFlight--;
        }
      },
    });
    const countingRunner = batchRunner({ ...deps, payments: counting });

    const campaign = await makeSettlementCampaign(deps, { fundingModel: 'flexible' });
    const backers = await makeUsers(deps, 100);
    const ids = await makePledges(deps, campaign, specs(100, { amountCents: 900 }, backers));
    const { result, heartbeats } = await countingRunner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 100 });
    expect(result).toMatchObject({ processed: 100, collected: 100, failed: 0, done: false });
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(deps.config.SETTLEMENT_CONCURRENCY);
    expect(heartbeats.length).toBe(100);
    expect(await pledgeStatuses(deps, ids)).toEqual({ collected: 100 });
    expect((await ledgerSummary(deps.db, campaign.id)).byKind.charge).toBe(90_000);
    // A full batch cannot know it was the last; the next (empty) one says so.
    const next = await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: result.lastPledgeId, batchSize: 100 });
    expect(next.result).toMatchObject({ processed: 0, done: true, lastPledgeId: result.lastPledgeId });
  }, 90_000);
});

describe('settlePledgeBatch: void', () => {
  it('releases every hold of a failed campaign and voids every open pledge; saved cards need no provider call', async () => {
    const campaign = await makeSettlementCampaign(deps, { status: 'failed' });
    const backers = await makeUsers(deps, 7);
    const held = await makePledges(deps, campaign, specs(3, { mode: 'authorize', amountCents: 3_000, tierId: campaign.tierId }, backers.slice(0, 3)));
    const saved = await makePledges(deps, campaign, specs(2, { mode: 'save_card', amountCents: 2_000 }, backers.slice(3, 5)));
    // Never reached the provider.
    const pending = await makePledge(deps, campaign, { backerId: backers[5]!, mode: 'authorize', pending: true });
    // Waiting for 3-D Secure: its intent must be cancelled too, though it never held money.
    const waiting = await makePledge(deps, campaign, { backerId: backers[6]!, mode: 'authorize', paymentMethod: 'pm_card_authenticationRequired', pending: true });
    const action = await createPaymentService(deps).authorizePayment({
      businessKey: `pledge:${waiting}:authorize`,
      amountCents: 1_000,
      currency: 'USD',
      paymentMethod: 'pm_card_authenticationRequired',
      customerRef: backers[6]!,
    });
    expect(action.status).toBe('requires_action');
    await deps.db('pledges').where({ id: waiting }).update({ status: 'requires_action' });

    const all = [...held, ...saved, pending, waiting];
    const input = { campaignId: campaign.id, action: 'void' as const, afterPledgeId: null, batchSize: 20 };
    const { result } = await runner.run(input);
    expect(result).toMatchObject({ done: true, processed: 7, voided: 7, collected: 0 });
    expect((await runner.run(input)).result).toMatchObject({ processed: 0, done: true });

    expect(await pledgeStatuses(deps, all)).toEqual({ voided: 7 });
    for (const id of [...held, waiting]) {
      const intents = await gatewayIntents(deps, id);
      expect(intents).toHaveLength(1);
      expect(intents[0]).toMatchObject({ status: 'canceled', captured_cents: 0 });
    }
    for (const id of [...saved, pending]) expect(await gatewayIntents(deps, id)).toHaveLength(0);

    const summary = await ledgerSummary(deps.db, campaign.id);
    // Every authorization answered by a void, nothing collected.
    expect(summary.byKind).toMatchObject({ authorization: 9_000, void: 9_000, capture: 0, charge: 0 });
    expect(summary).toMatchObject({ netCollectedCents: 0, campaignCollectedCents: 0, reconciled: true });
    expect(await deps.db('ledger_transactions').where({ campaign_id: campaign.id, kind: 'void' }).pluck('business_key')).toHaveLength(3);
    // The campaign is over: reward slots stay as they were (see voidPledge).
    expect((await deps.db('reward_tiers').where({ id: campaign.tierId }).first()).claimed).toBe(3);
  });
});

describe('ledger', () => {
  it('records each business key once and reconciles collected_cents with captures + charges - refunds', async () => {
    const campaign = await makeSettlementCampaign(deps);
    const [backer] = await makeUsers(deps, 1);
    const id = await makePledge(deps, campaign, { backerId: backer!, amountCents: 5_000 });
    await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
    expect(await ledgerSummary(deps.db, campaign.id)).toMatchObject({ netCollectedCents: 5_000, reconciled: true });

    const refund = {
      campaignId: campaign.id,
      pledgeId: id,
      kind: 'refund' as const,
      amountCents: 1_200,
      currency: 'usd',
      provider: 'simulated',
      providerId: 're_test',
      businessKey: `pledge:${id}:charge:1:refund`,
    };
    await recordLedgerEntry(deps.db, refund);
    await recordLedgerEntry(deps.db, refund);
    expect(await deps.db('ledger_transactions').where({ business_key: refund.businessKey }).select('currency')).toEqual([{ currency: 'USD' }]);
    // A refund not yet reflected in the campaign's total is exactly what reconciliation must catch.
    expect(await ledgerSummary(deps.db, campaign.id)).toMatchObject({ netCollectedCents: 3_800, campaignCollectedCents: 5_000, reconciled: false });
    await deps.db('campaigns').where({ id: campaign.id }).decrement('collected_cents', 1_200);
    expect(await ledgerSummary(deps.db, campaign.id)).toMatchObject({ netCollectedCents: 3_800, campaignCollectedCents: 3_800, reconciled: true });
  });
});
