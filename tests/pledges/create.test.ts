import { randomUUID } from 'node:crypto';
import { SimulatedGateway } from '../../src/payments/simulatedGateway';
import { readCampaignEventsAfter, STREAM_START_ID } from '../../src/campaigns/events';
import { liveTotalsKey, readTotals } from '../../src/campaigns/liveTotals';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { postPledge } from '../helpers/api';
import { campaignTotals, makeCampaign, makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { claimed, countRows, paymentRow } from './fixtures';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

let ctx: TestContext;
let creator: TestUser;

beforeAll(async () => {
  // A two-day card-hold window: a campaign ending within it authorizes now, a later one saves the card.
  ctx = createTestContext(testConfig({ HOLD_WINDOW: String(2 * 24 * 3600) }));
  creator = await makeUser(ctx.deps, { role: 'creator', name: 'Carla Creator' });
});
afterAll(() => ctx.close());

const pledge = (campaignId: string, user: TestUser, body: Record<string, unknown>, key?: string) => postPledge(ctx.http, campaignId, user, body, key);

const gateway = () => ctx.deps.payments as SimulatedGateway;

describe('POST /v1/campaigns/{id}/pledges', () => {
  it('authorizes now when the deadline is inside the hold window, activates the pledge and moves the totals', async () => {
    const campaign = await makeCampaign(ctx.deps, {
      ownerId: creator.id,
      endsInMs: HOUR,
      goalCents: 10_000,
      webhookUrl: 'https://creator.example.test/hooks',
      tiers: [{ minAmountCents: 2_000, quantity: 5 }],
    });
    const backer = await makeUser(ctx.deps);
    // Warm the live counters so the pledge's delta has something to move.
    expect(await readTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
    const res = await pledge(campaign.id, backer, { amount_cents: 2_500, reward_tier_id: campaign.tiers[0]!.id, payment_method: 'pm_card_visa' });

    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      campaign_id: campaign.id,
      backer_id: backer.id,
      reward_tier_id: campaign.tiers[0]!.id,
      amount_cents: 2_500,
      currency: 'USD',
      status: 'active',
      payment_mode: 'authorize',
      failure_code: null,
      drop_deadline: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      collected_at: null,
      cancelled_at: null,
    });
    const hold = await paymentRow(ctx.deps, `pledge:${res.body.id}:authorize`);
    expect(hold).toMatchObject({ kind: 'authorization', status: 'requires_capture', amount_cents: 2_500 });
    const row = await ctx.deps.db('pledges').where({ id: res.body.id }).first();
    expect(row.payment_key).toBe(`pledge:${res.body.id}:authorize`);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 2_500, backer_count: 1 });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(1);

    // The ledger records the hold with its provider id.
    expect(await ctx.deps.db('ledger_transactions').where({ pledge_id: res.body.id }).select('kind', 'amount_cents', 'currency', 'provider_id', 'business_key')).toEqual([
      { kind: 'authorization', amount_cents: 2_500, currency: 'USD', provider_id: hold!.provider_payment_id, business_key: `pledge:${res.body.id}:authorize` },
    ]);
    // The owner hears about it: inbox, push and webhook, each queued once.
    const inbox = await ctx.deps.db('notifications').where({ user_id: creator.id, dedupe_key: `pledge_received:${res.body.id}` }).first('type', 'data');
    expect(inbox).toMatchObject({ type: 'pledge_received', data: { pledge_id: res.body.id, amount_cents: 2_500, campaign_id: campaign.id } });
    const outbox = await ctx.deps.db('outbox').whereIn('dedupe_key', [`notification:pledge_received:${res.body.id}`, `webhook:pledge.created:${res.body.id}`]).pluck('topic');
    expect(outbox.sort()).toEqual(['creator_webhook', 'notification_push']);
    // Live counters and the progress event carry the new totals.
    expect(await ctx.deps.redis.hgetall(liveTotalsKey(campaign.id))).toEqual({ pledged_cents: '2500', backer_count: '1' });
    const events = await readCampaignEventsAfter(ctx.deps.redis, campaign.id, STREAM_START_ID);
    expect(events.map((e) => e.event)).toEqual([{ type: 'progress', pledged_cents: 2_500, backer_count: 1, percent_funded: 25 }]);
  });

  it('saves the card when the deadline is beyond the hold window (charged off-session later)', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs: 10 * DAY });
    const backer = await makeUser(ctx.deps);
    const res = await pledge(campaign.id, backer, { amount_cents: 1_000, payment_method: 'pm_card_visa' });

    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'active', payment_mode: 'save_card', reward_tier_id: null });
    const setup = await paymentRow(ctx.deps, `pledge:${res.body.id}:setup`);
    expect(setup).toMatchObject({ kind: 'setup', status: 'succeeded' });
    // What the off-session charge at the deadline needs is stored on the pledge, and never shown.
    const row = await ctx.deps.db('pledges').where({ id: res.body.id }).first();
    expect(row.provider_customer_id).toMatch(/^cus_/);
    expect(row.provider_payment_method).toBe('pm_card_visa');
    expect(await ctx.deps.db('payments').where({ business_key: `pledge:${res.body.id}:authorize` }).first()).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toMatch(/pm_card_visa|cus_|seti_/);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_000, backer_count: 1 });
  });

  it('rejects malformed input with 400 and requires an Idempotency-Key', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id });
    const backer = await makeUser(ctx.deps);
    expectProblem(await pledge(campaign.id, backer, { amount_cents: 1_000, payment_method: 'card_visa' }), 400, 'validation_failed');
    expectProblem(await pledge(campaign.id, backer, { amount_cents: 0, payment_method: 'pm_card_visa' }), 400, 'validation_failed');
    expectProblem(await pledge(campaign.id, backer, { amount_cents: 12.5, payment_method: 'pm_card_visa' }), 400, 'validation_failed');
    expectProblem(await pledge(campaign.id, backer, { amount_cents: 1_000_000_001, payment_method: 'pm_card_visa' }), 400, 'validation_failed');
    expectProblem(await pledge(campaign.id, backer, { amount_cents: 1_000, payment_method: 'pm_card_visa', reward_tier_id: 'x' }), 400, 'validation_failed');
    const noKey = await ctx.http
      .post(`/v1/campaigns/${campaign.id}/pledges`)
      .set('Authorization', backer.auth)
      .send({ amount_cents: 1_000, payment_method: 'pm_card_visa' });
    expectProblem(noKey, 400, 'idempotency_key_required');
    const anonymous = await ctx.http
      .post(`/v1/campaigns/${campaign.id}/pledges`)
      .set('Idempotency-Key', randomUUID())
      .send({ amount_cents: 1_000, payment_method: 'pm_card_visa' });
    expectProblem(anonymous, 401, 'unauthorized');
    expect(await countRows(ctx.deps, 'pledges', (q) => q.where({ campaign_id: campaign.id }))).toBe(0);
  });

  it('answers 404 for an unknown campaign and 422 for a campaign that is not live or already past its deadline', async () => {
    const backer = await makeUser(ctx.deps);
    const body = { amount_cents: 1_000, payment_method: 'pm_card_visa' };
    expectProblem(await pledge(randomUUID(), backer, body), 404, 'not_found');
    const draft = await makeCampaign(ctx.deps, { ownerId: creator.id, status: 'draft' });
    expectProblem(await pledge(draft.id, backer, body), 422, 'campaign_not_live');
    const settled = await makeCampaign(ctx.deps, { ownerId: creator.id, status: 'succeeded' });
    expectProblem(await pledge(settled.id, backer, body), 422, 'campaign_not_live');
    const overdue = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs: 1_000 });
    await ctx.deps.db('campaigns').where({ id: overdue.id }).update({ ends_at: new Date(Date.now() - 1_000) });
    expectProblem(await pledge(overdue.id, backer, body), 422, 'campaign_not_live');
  });

  it('refuses the owner backing their own campaign, a tier of another campaign and an amount below the tier minimum', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ minAmountCents: 5_000 }] });
    const other = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ minAmountCents: 100 }] });
    const backer = await makeUser(ctx.deps);
    expectProblem(await pledge(campaign.id, creator, { amount_cents: 5_000, payment_method: 'pm_card_visa' }), 422, 'cannot_back_own_campaign');
    expectProblem(
      await pledge(campaign.id, backer, { amount_cents: 5_000, reward_tier_id: other.tiers[0]!.id, payment_method: 'pm_card_visa' }),
      422,
      'invalid_reward_tier',
    );
    const below = await pledge(campaign.id, backer, { amount_cents: 4_999, reward_tier_id: campaign.tiers[0]!.id, payment_method: 'pm_card_visa' });
    expectProblem(below, 422, 'below_reward_minimum');
    expect(below.body.min_amount_cents).toBe(5_000);
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(0);
    expect(await claimed(ctx.deps, other.tiers[0]!.id)).toBe(0);
  });

  it('answers 409 already_pledged with the open pledge id when the backer pledges twice', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id });
    const backer = await makeUser(ctx.deps);
    const first = await pledge(campaign.id, backer, { amount_cents: 1_000, payment_method: 'pm_card_visa' });
    expect(first.status).toBe(201);
    const second = await pledge(campaign.id, backer, { amount_cents: 2_000, payment_method: 'pm_card_visa' });
    expectProblem(second, 409, 'already_pledged');
    expect(second.body.pledge_id).toBe(first.body.id);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_000, backer_count: 1 });
  });
});

describe('idempotent replay', () => {
  it('replays the first 201 for the same key and body, with one pledge and one hold', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ minAmountCents: 1_000, quantity: 3 }] });
    const backer = await makeUser(ctx.deps);
    const key = randomUUID();
    const body = { amount_cents: 1_500, reward_tier_id: campaign.tiers[0]!.id, payment_method: 'pm_card_visa' };
    const first = await pledge(campaign.id, backer, body, key);
    const again = await pledge(campaign.id, backer, body, key);

    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await ctx.deps.db('pledges').where({ campaign_id: campaign.id }).select('id')).toEqual([{ id: first.body.id }]);
    expect(await countRows(ctx.deps, 'payments', (q) => q.whereLike('business_key', `pledge:${first.body.id}:%`))).toBe(1);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_500, backer_count: 1 });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(1);

    const reused = await pledge(campaign.id, backer, { ...body, amount_cents: 1_600 }, key);
    expectProblem(reused, 422, 'idempotency_key_reused');
  });

  it('replays a decline as the same 402', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id });
    const backer = await makeUser(ctx.deps);
    const key = randomUUID();
    const body = { amount_cents: 1_000, payment_method: 'pm_card_chargeDeclined' };
    const first = await pledge(campaign.id, backer, body, key);
    const again = await pledge(campaign.id, backer, body, key);
    expectProblem(first, 402, 'payment_declined');
    expectProblem(again, 402, 'payment_declined');
    expect(again.body.pledge_id).toBe(first.body.pledge_id);
    expect(await countRows(ctx.deps, 'pledges', (q) => q.where({ campaign_id: campaign.id }))).toBe(1);
  });

  it('resumes a pledge left pending by a crash when the same request is retried, without a second hold', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ minAmountCents: 1_000, quantity: 1 }] });
    const backer = await makeUser(ctx.deps);
    // What a crash between claiming the slot and calling the provider leaves behind.
    const id = randomUUID();
    await ctx.deps.db.transaction(async (trx) => {
      await trx('reward_tiers').where({ id: campaign.tiers[0]!.id }).increment('claimed', 1);
      await trx('pledges').insert({
        id,
        campaign_id: campaign.id,
        backer_id: backer.id,
        reward_tier_id: campaign.tiers[0]!.id,
        amount_cents: 1_000,
        currency: 'USD',
        status: 'pending',
        payment_mode: 'authorize',
        payment_method: 'pm_card_visa',
        payment_key: `pledge:${id}:authorize`,
      });
    });
    const res = await pledge(campaign.id, backer, { amount_cents: 1_000, reward_tier_id: campaign.tiers[0]!.id, payment_method: 'pm_card_visa' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id, status: 'active' });
    // The only slot is the one the pending pledge held: resuming does not claim another.
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(1);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_000, backer_count: 1 });
  });
});

describe('declined cards', () => {
  it.each([
    ['pm_card_chargeDeclined', 'generic_decline', HOUR],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds', HOUR],
    ['pm_card_chargeDeclined', 'generic_decline', 10 * DAY],
  ])('%s answers 402 payment_declined (%s) and frees the reward slot (deadline in %d ms)', async (card, declineCode, endsInMs) => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs, tiers: [{ minAmountCents: 1_000, quantity: 1 }] });
    const backer = await makeUser(ctx.deps);
    const tierId = campaign.tiers[0]!.id;
    const res = await pledge(campaign.id, backer, { amount_cents: 1_000, reward_tier_id: tierId, payment_method: card });

    expectProblem(res, 402, 'payment_declined');
    expect(res.body).toMatchObject({ pledge_id: expect.any(String), decline_code: declineCode });
    const row = await ctx.deps.db('pledges').where({ id: res.body.pledge_id }).first();
    expect(row).toMatchObject({ status: 'declined', failure_code: declineCode });
    expect(await claimed(ctx.deps, tierId)).toBe(0);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });

    // The slot really is free, and a declined attempt does not block the backer from trying another card.
    const retry = await pledge(campaign.id, backer, { amount_cents: 1_000, reward_tier_id: tierId, payment_method: 'pm_card_visa' });
    expect(retry.status).toBe(201);
    expect(await claimed(ctx.deps, tierId)).toBe(1);
  });
});

describe('3-D Secure: requires_action, then confirm', () => {
  async function startAuthRequired(endsInMs = HOUR) {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs, tiers: [{ minAmountCents: 1_000, quantity: 1 }] });
    const backer = await makeUser(ctx.deps);
    const res = await pledge(campaign.id, backer, { amount_cents: 3_000, reward_tier_id: campaign.tiers[0]!.id, payment_method: 'pm_card_authenticationRequired' });
    return { campaign, backer, res };
  }
  const confirm = (pledgeId: string, user: TestUser) => ctx.http.post(`/v1/pledges/${pledgeId}/confirm`).set('Authorization', user.auth);

  it('reports requires_action with what the client needs, holds the slot without counting, and activates on confirm', async () => {
    const { campaign, backer, res } = await startAuthRequired();
    expectProblem(res, 402, 'requires_action');
    expect(res.body).toMatchObject({ pledge_id: expect.any(String), next_action: { type: 'use_stripe_sdk', client_secret: expect.stringMatching(/^pi_.+_secret_/) } });
    const pledgeId = res.body.pledge_id as string;
    expect(await ctx.deps.db('pledges').where({ id: pledgeId }).first()).toMatchObject({ status: 'requires_action' });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(1);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });

    // Not authenticated yet: still requires_action.
    const early = await confirm(pledgeId, backer);
    expectProblem(early, 402, 'requires_action');

    // Someone else cannot confirm (or even see) it.
    const stranger = await makeUser(ctx.deps);
    expectProblem(await confirm(pledgeId, stranger), 404, 'not_found');

    const hold = await paymentRow(ctx.deps, `pledge:${pledgeId}:authorize`);
    await gateway().simulateCustomerAction(hold!.provider_payment_id!, 'authenticated');
    const done = await confirm(pledgeId, backer);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: pledgeId, status: 'active', amount_cents: 3_000 });
    expect(await paymentRow(ctx.deps, `pledge:${pledgeId}:authorize`)).toMatchObject({ status: 'requires_capture' });
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 3_000, backer_count: 1 });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(1);

    // Confirming again changes nothing.
    const twice = await confirm(pledgeId, backer);
    expect(twice.status).toBe(200);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 3_000, backer_count: 1 });
  });

  it('reports requires_action with the setup client secret when a card being saved needs authentication', async () => {
    const { campaign, res } = await startAuthRequired(10 * DAY);
    expectProblem(res, 402, 'requires_action');
    expect(res.body.next_action).toEqual({ type: 'use_stripe_sdk', client_secret: expect.stringMatching(/^seti_.+_secret_/) });
    const row = await ctx.deps.db('pledges').where({ id: res.body.pledge_id }).first('status', 'payment_mode', 'payment_key');
    expect(row).toEqual({ status: 'requires_action', payment_mode: 'save_card', payment_key: `pledge:${res.body.pledge_id}:setup` });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(1);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
  });

  it('declines and frees the slot when authentication fails', async () => {
    const { campaign, backer, res } = await startAuthRequired();
    const pledgeId = res.body.pledge_id as string;
    const hold = await paymentRow(ctx.deps, `pledge:${pledgeId}:authorize`);
    await gateway().simulateCustomerAction(hold!.provider_payment_id!, 'failed');
    const done = await confirm(pledgeId, backer);
    expectProblem(done, 402, 'payment_declined');
    expect(await ctx.deps.db('pledges').where({ id: pledgeId }).first()).toMatchObject({ status: 'declined' });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(0);
    expectProblem(await confirm(pledgeId, backer), 409, 'pledge_not_confirmable');
  });

  it('voids the hold and frees the slot when the campaign was decided before the backer confirmed', async () => {
    const { campaign, backer, res } = await startAuthRequired();
    const pledgeId = res.body.pledge_id as string;
    const hold = await paymentRow(ctx.deps, `pledge:${pledgeId}:authorize`);
    await gateway().simulateCustomerAction(hold!.provider_payment_id!, 'authenticated');
    await ctx.deps.db('campaigns').where({ id: campaign.id }).update({ status: 'failed' });

    const done = await confirm(pledgeId, backer);
    expectProblem(done, 422, 'campaign_not_live');
    expect(await ctx.deps.db('pledges').where({ id: pledgeId }).first()).toMatchObject({ status: 'cancelled' });
    expect(await paymentRow(ctx.deps, `pledge:${pledgeId}:authorize`)).toMatchObject({ status: 'canceled' });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(0);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
  });

  it('lets the backer cancel a pledge stuck in requires_action, voiding the intent and freeing the slot', async () => {
    const { campaign, backer, res } = await startAuthRequired();
    const pledgeId = res.body.pledge_id as string;
    const cancelled = await ctx.http.delete(`/v1/pledges/${pledgeId}`).set('Authorization', backer.auth);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(await paymentRow(ctx.deps, `pledge:${pledgeId}:authorize`)).toMatchObject({ status: 'canceled' });
    expect(await claimed(ctx.deps, campaign.tiers[0]!.id)).toBe(0);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
  });
});
