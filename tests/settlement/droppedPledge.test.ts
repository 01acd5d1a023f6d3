import type { WorkflowHandle } from '@temporalio/client';
import { ledgerSummary } from '../../src/campaigns/ledger';
import { createPaymentService } from '../../src/payments/paymentService';
import { Status } from '../../src/temporal/searchAttributes';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bearer, gatewayIntents, makePledge, makeUsers, takenByPledge } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { batchRunner, makeSettlementCampaign } from './fixtures';

/**
 * The dropped-pledge window on a real worker with real timers (window 6 s, reminders every 2 s), and
 * PUT /v1/pledges/{id}/payment-method over HTTP.
 */

let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let runner: ReturnType<typeof batchRunner>;

beforeAll(async () => {
  ctx = createTestContext(testConfig({ DROPPED_PLEDGE_WINDOW: '6', REMINDER_INTERVAL: '2' }));
  worker = await startTestWorker(ctx.deps);
  runner = batchRunner(ctx.deps);
});
afterAll(async () => {
  await worker?.stop();
  await ctx.close();
});

const notificationsOf = (userId: string, type: string) =>
  ctx.deps.db('notifications').where({ user_id: userId, type }).orderBy('created_at') as Promise<Array<{ dedupe_key: string; data: Record<string, unknown> }>>;

const putCard = (pledgeId: string, userId: string, paymentMethod: string) =>
  ctx.http.put(`/v1/pledges/${pledgeId}/payment-method`).set('Authorization', bearer(ctx.deps, userId)).send({ payment_method: paymentMethod });

const windowOf = async (pledgeId: string): Promise<WorkflowHandle> => (await ctx.deps.temporal.client()).workflow.getHandle(`pledge:${pledgeId}`);

describe('dropped-pledge window', () => {
  it('failed charge → reminders → a declined new card keeps the window → a good card collects at once; the one never fixed is dropped and frees its slot', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps, { tierQuantity: 10, goalCents: 1_000 });
    const [rescuer, neglecter, fine, stranger] = await makeUsers(ctx.deps, 4);
    const rescued = await makePledge(ctx.deps, campaign, { backerId: rescuer!, paymentMethod: 'pm_card_chargeCustomerFail', amountCents: 3_000, tierId: campaign.tierId });
    const dropped = await makePledge(ctx.deps, campaign, { backerId: neglecter!, paymentMethod: 'pm_card_chargeCustomerFail', amountCents: 2_000, tierId: campaign.tierId });
    await makePledge(ctx.deps, campaign, { backerId: fine!, amountCents: 5_000, tierId: campaign.tierId });
    expect(await ctx.deps.db('campaigns').where({ id: campaign.id }).first('pledged_cents', 'backer_count')).toEqual({ pledged_cents: 10_000, backer_count: 3 });

    const { result } = await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
    expect(result).toMatchObject({ collected: 1, failed: 2 });
    for (const id of [rescued, dropped]) expect(await ctx.deps.db('pledges').where({ id }).first()).toMatchObject({ status: 'payment_failed' });
    expect(await notificationsOf(rescuer!, 'payment_failed')).toHaveLength(1);

    // The first reminder comes one interval after the failure.
    const reminders = await eventually(
      async () => {
        const r = await notificationsOf(rescuer!, 'payment_reminder');
        return r.length >= 1 && r;
      },
      15_000,
      'the first payment reminder',
      100,
    );
    expect(reminders[0]!.dedupe_key).toBe(`payment_reminder:${rescued}:1`);

    // Only the pledge's backer may touch it.
    expect((await putCard(rescued, stranger!, 'pm_card_visa')).status).toBe(404);

    // A new card that saves but cannot be charged: 402, still in the window.
    const deadlineBefore = (await ctx.deps.db('pledges').where({ id: rescued }).first()).drop_deadline as Date;
    const again = await putCard(rescued, rescuer!, 'pm_card_chargeCustomerFail');
    expect(again.status).toBe(402);
    expect(again.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(again.body).toMatchObject({ code: 'payment_declined', decline_code: 'card_declined' });
    const stillFailing = await ctx.deps.db('pledges').where({ id: rescued }).first();
    expect(stillFailing).toMatchObject({ status: 'payment_failed', payment_mode: 'save_card', payment_key: `pledge:${rescued}:setup:1`, charge_attempts: 2 });
    expect(stillFailing.drop_deadline).toEqual(deadlineBefore);

    const ok = await putCard(rescued, rescuer!, 'pm_card_visa');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: rescued, status: 'collected', amount_cents: 3_000, failure_code: null, drop_deadline: null });
    expect(await (await windowOf(rescued)).result()).toEqual({ status: 'collected', attempts: 2 });
    const rescuedWindow = await (await windowOf(rescued)).describe();
    expect(rescuedWindow.typedSearchAttributes.get(Status)).toBe('collected');

    // Three charge attempts at the gateway, one key each, and only the last took money.
    const attempts = await gatewayIntents(ctx.deps, rescued);
    expect(attempts.map((a) => [a.business_key, a.status]).sort()).toEqual([
      [`pledge:${rescued}:charge:1`, 'failed'],
      [`pledge:${rescued}:charge:2`, 'failed'],
      [`pledge:${rescued}:charge:3`, 'succeeded'],
    ]);
    expect((await takenByPledge(ctx.deps, [rescued])).get(rescued)).toMatchObject({ charged: 1, capturedCents: 3_000 });
    // Collected: nothing left to rescue.
    expect((await putCard(rescued, rescuer!, 'pm_card_visa')).body).toMatchObject({ code: 'pledge_not_updatable' });

    // The other backer never acts: reminders at 2 s and 4 s, a final retry at 6 s, then the drop.
    expect(await (await windowOf(dropped)).result()).toEqual({ status: 'dropped', attempts: 1 });
    expect((await notificationsOf(neglecter!, 'payment_reminder')).map((n) => n.dedupe_key)).toEqual([
      `payment_reminder:${dropped}:1`,
      `payment_reminder:${dropped}:2`,
    ]);
    expect(await notificationsOf(neglecter!, 'pledge_dropped')).toHaveLength(1);
    expect(await ctx.deps.db('pledges').where({ id: dropped }).first()).toMatchObject({ status: 'dropped', charge_attempts: 2 });
    expect((await gatewayIntents(ctx.deps, dropped)).map((a) => a.status)).toEqual(['failed', 'failed']);
    expect((await ctx.deps.db('reward_tiers').where({ id: campaign.tierId }).first()).claimed).toBe(2);
    expect(await ctx.deps.db('campaigns').where({ id: campaign.id }).first('pledged_cents', 'backer_count', 'collected_cents')).toEqual({
      pledged_cents: 8_000,
      backer_count: 2,
      collected_cents: 8_000,
    });
    expect((await (await windowOf(dropped)).describe()).typedSearchAttributes.get(Status)).toBe('dropped');
    expect(await ledgerSummary(ctx.deps.db, campaign.id)).toMatchObject({ netCollectedCents: 8_000, reconciled: true });
    // The window is over.
    expect((await putCard(dropped, neglecter!, 'pm_card_visa')).body).toMatchObject({ code: 'pledge_not_updatable' });
  }, 60_000);
});

describe('dropped-pledge window for an expired hold', () => {
  it('a hold that can no longer be captured fails the pledge; a new card is saved and charged off-session at once', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps);
    const [backer] = await makeUsers(ctx.deps, 1);
    const id = await makePledge(ctx.deps, campaign, { backerId: backer!, mode: 'authorize', amountCents: 6_000 });
    // The card network let the hold lapse before the deadline.
    await createPaymentService(ctx.deps).cancelPayment({ businessKey: `pledge:${id}:authorize` });

    const { result } = await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
    expect(result).toMatchObject({ collected: 0, failed: 1 });
    expect(await ctx.deps.db('pledges').where({ id }).first()).toMatchObject({ status: 'payment_failed', failure_code: 'authorization_expired' });

    const res = await putCard(id, backer!, 'pm_card_visa');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'collected', payment_mode: 'save_card' });
    expect(await ctx.deps.db('pledges').where({ id }).first()).toMatchObject({ payment_key: `pledge:${id}:setup:1`, collected_cents: 6_000 });
    expect((await gatewayIntents(ctx.deps, id)).find((i) => i.captured_cents > 0)).toMatchObject({ business_key: `pledge:${id}:charge:2`, off_session: true, captured_cents: 6_000 });
    expect(await (await windowOf(id)).result()).toEqual({ status: 'collected', attempts: 1 });
    expect(await ledgerSummary(ctx.deps.db, campaign.id)).toMatchObject({ netCollectedCents: 6_000, reconciled: true });
  });
});

describe('PUT /v1/pledges/{id}/payment-method while the campaign is live', () => {
  it('replaces a saved card under a new key; the pledge keeps counting', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps, { status: 'live', endsInMs: 3_600_000 });
    const [backer] = await makeUsers(ctx.deps, 1);
    const id = await makePledge(ctx.deps, campaign, { backerId: backer!, amountCents: 2_000 });
    const res = await putCard(id, backer!, 'pm_card_mastercard');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'active', payment_mode: 'save_card' });
    expect(res.body).not.toHaveProperty('payment_method');
    const row = await ctx.deps.db('pledges').where({ id }).first();
    expect(row).toMatchObject({ status: 'active', payment_method: 'pm_card_mastercard', payment_key: `pledge:${id}:setup:1`, provider_payment_method: 'pm_card_mastercard' });
    expect(await ctx.deps.db('payments').where({ business_key: `pledge:${id}:setup:1` }).first('status', 'kind')).toEqual({ status: 'succeeded', kind: 'setup' });
    // A card that cannot be saved changes nothing.
    const bad = await putCard(id, backer!, 'pm_card_chargeDeclined');
    expect(bad.status).toBe(402);
    expect(await ctx.deps.db('pledges').where({ id }).first('payment_method')).toEqual({ payment_method: 'pm_card_mastercard' });
  });

  it('moves an authorized pledge to a new hold on the new card, then voids the old hold; a declined card leaves the old hold', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps, { status: 'live', endsInMs: 3_600_000 });
    const [backer] = await makeUsers(ctx.deps, 1);
    const id = await makePledge(ctx.deps, campaign, { backerId: backer!, mode: 'authorize', amountCents: 4_000 });

    const declined = await putCard(id, backer!, 'pm_card_chargeDeclinedInsufficientFunds');
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({ code: 'payment_declined', decline_code: 'insufficient_funds' });
    expect(await ctx.deps.db('pledges').where({ id }).first('payment_key')).toEqual({ payment_key: `pledge:${id}:authorize` });

    const res = await putCard(id, backer!, 'pm_card_amex');
    expect(res.status).toBe(200);
    const row = await ctx.deps.db('pledges').where({ id }).first();
    expect(row).toMatchObject({ status: 'active', payment_mode: 'authorize', payment_method: 'pm_card_amex', payment_key: `pledge:${id}:authorize:2` });
    const intents = new Map((await gatewayIntents(ctx.deps, id)).map((i) => [i.business_key, i.status]));
    expect(intents).toEqual(
      new Map([
        [`pledge:${id}:authorize`, 'canceled'],
        // the declined attempt's intent, voided so it can never complete later
        [`pledge:${id}:authorize:1`, 'canceled'],
        [`pledge:${id}:authorize:2`, 'requires_capture'],
      ]),
    );
    const lines = (await ctx.deps.db('ledger_transactions').where({ pledge_id: id }).orderBy('id').select('kind', 'business_key', 'amount_cents')) as unknown[];
    expect(lines).toEqual([
      { kind: 'authorization', business_key: `pledge:${id}:authorize`, amount_cents: 4_000 },
      { kind: 'authorization', business_key: `pledge:${id}:authorize:2`, amount_cents: 4_000 },
      { kind: 'void', business_key: `pledge:${id}:authorize:void`, amount_cents: 4_000 },
    ]);

    // Settlement then captures the new hold.
    await makeCampaignDecided(campaign.id);
    await runner.run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
    expect(await ctx.deps.db('pledges').where({ id }).first('status', 'collected_cents')).toEqual({ status: 'collected', collected_cents: 4_000 });
    expect((await gatewayIntents(ctx.deps, id)).find((i) => i.business_key === `pledge:${id}:authorize:2`)).toMatchObject({ status: 'succeeded', captured_cents: 4_000 });
  });

  it('refuses pledges that are neither live nor in their window, and malformed requests', async () => {
    const campaign = await makeSettlementCampaign(ctx.deps, { status: 'succeeded' });
    const [backer] = await makeUsers(ctx.deps, 1);
    const id = await makePledge(ctx.deps, campaign, { backerId: backer! });
    // Active, but the campaign is decided: settlement owns it now.
    const res = await putCard(id, backer!, 'pm_card_visa');
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'pledge_not_updatable' });

    expect((await ctx.http.put(`/v1/pledges/${id}/payment-method`).send({ payment_method: 'pm_card_visa' })).status).toBe(401);
    const bad = await ctx.http.put(`/v1/pledges/${id}/payment-method`).set('Authorization', bearer(ctx.deps, backer!)).send({ payment_method: 'card_visa' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
    const unknown = await ctx.http.put(`/v1/pledges/${id}/payment-method`).set('Authorization', bearer(ctx.deps, backer!)).send({ payment_method: 'pm_card_visa', extra: 1 });
    expect(unknown.status).toBe(400);
    expect((await ctx.http.put('/v1/pledges/not-a-uuid/payment-method').set('Authorization', bearer(ctx.deps, backer!)).send({ payment_method: 'pm_card_visa' })).status).toBe(400);
    expect((await putCard('00000000-0000-4000-8000-000000000000', backer!, 'pm_card_visa')).status).toBe(404);
  });
});

async function makeCampaignDecided(campaignId: string): Promise<void> {
  await ctx.deps.db('campaigns').where({ id: campaignId }).update({ status: 'succeeded', ends_at: new Date(Date.now() - 1000), starts_at: new Date(Date.now() - 3_600_000) });
}
