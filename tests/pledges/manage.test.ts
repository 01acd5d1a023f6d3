import { randomUUID } from 'node:crypto';
import { readCampaignEventsAfter, STREAM_START_ID } from '../../src/campaigns/events';
import { createTestContext, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { postPledge } from '../helpers/api';
import { campaignTotals, makeCampaign, makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { claimed, paymentRow } from './fixtures';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const operatorEmail = uniqueEmail('operator');

let ctx: TestContext;
let creator: TestUser;
let operator: TestUser;

beforeAll(async () => {
  ctx = createTestContext(
    testConfig({
      OPERATOR_EMAILS: operatorEmail,
      HOLD_WINDOW: String(2 * 24 * 3600),
      // The last-window rule applies in the final 10 minutes (seconds, like every test timer).
      PLEDGE_LOCK_WINDOW: '600',
    }),
  );
  creator = await makeUser(ctx.deps, { role: 'creator', name: 'Carla Creator' });
  operator = await makeUser(ctx.deps, { email: operatorEmail });
});
afterAll(() => ctx.close());

const pledge = (campaignId: string, user: TestUser, body: Record<string, unknown>) => postPledge(ctx.http, campaignId, user, body);
async function activePledge(campaignId: string, user: TestUser, body: Record<string, unknown>): Promise<string> {
  const res = await pledge(campaignId, user, { payment_method: 'pm_card_visa', ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}
const edit = (id: string, user: TestUser, body: Record<string, unknown>) => ctx.http.patch(`/v1/pledges/${id}`).set('Authorization', user.auth).send(body);
const cancel = (id: string, user: TestUser) => ctx.http.delete(`/v1/pledges/${id}`).set('Authorization', user.auth);

describe('who sees pledges', () => {
  it('GET /v1/pledges/{id}: the backer, the campaign owner and operators; anyone else gets 404', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id });
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_200 });
    for (const user of [backer, creator, operator]) {
      const res = await ctx.http.get(`/v1/pledges/${id}`).set('Authorization', user.auth);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, backer_id: backer.id, amount_cents: 1_200, status: 'active' });
      expect(Object.keys(res.body)).not.toEqual(expect.arrayContaining(['payment_method']));
      expect(JSON.stringify(res.body)).not.toMatch(/pm_|pi_|cus_|payment_key|provider/);
    }
    const stranger = await makeUser(ctx.deps);
    expectProblem(await ctx.http.get(`/v1/pledges/${id}`).set('Authorization', stranger.auth), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/pledges/${randomUUID()}`).set('Authorization', backer.auth), 404, 'not_found');
  });

  it('GET /v1/campaigns/{id}/pledges: owner and operator only, with backer name and tier, paged newest first', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ title: 'Sticker', minAmountCents: 500 }] });
    const backers = await Promise.all(['Ann', 'Bob', 'Cy'].map((name) => makeUser(ctx.deps, { name })));
    const ids: string[] = [];
    for (const [i, b] of backers.entries()) {
      ids.push(await activePledge(campaign.id, b, { amount_cents: 1_000 + i, ...(i === 1 ? { reward_tier_id: campaign.tiers[0]!.id } : {}) }));
    }
    // A cancelled pledge stays in the owner's list with its status.
    expect((await cancel(ids[2]!, backers[2]!)).status).toBe(200);

    const first = await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges?limit=2`).set('Authorization', creator.auth);
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual([
      { id: ids[2], backer: { id: backers[2]!.id, name: 'Cy' }, amount_cents: 1_002, currency: 'USD', reward_tier: null, status: 'cancelled', created_at: expect.any(String) },
      { id: ids[1], backer: { id: backers[1]!.id, name: 'Bob' }, amount_cents: 1_001, currency: 'USD', reward_tier: { id: campaign.tiers[0]!.id, title: 'Sticker' }, status: 'active', created_at: expect.any(String) },
    ]);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges?limit=2&cursor=${first.body.next_cursor}`).set('Authorization', creator.auth);
    expect(second.body.data.map((p: { id: string }) => p.id)).toEqual([ids[0]]);
    expect(second.body.next_cursor).toBeNull();

    const active = await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges?status=active`).set('Authorization', operator.auth);
    expect(active.status).toBe(200);
    expect(active.body.data.map((p: { id: string }) => p.id)).toEqual([ids[1], ids[0]]);

    expectProblem(await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges`).set('Authorization', backers[0]!.auth), 403, 'forbidden');
    expectProblem(await ctx.http.get(`/v1/campaigns/${randomUUID()}/pledges`).set('Authorization', creator.auth), 404, 'not_found');
    expectProblem(await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges?cursor=nonsense`).set('Authorization', creator.auth), 400, 'validation_failed');
    expectProblem(await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges?status=bogus`).set('Authorization', creator.auth), 400, 'validation_failed');
    expectProblem(await ctx.http.get(`/v1/campaigns/${campaign.id}/pledges`), 401, 'unauthorized');
  });

  it("GET /v1/me/pledges: the caller's pledges newest first with their campaign, declined attempts left out", async () => {
    const older = await makeCampaign(ctx.deps, { ownerId: creator.id, title: 'Older one' });
    const newer = await makeCampaign(ctx.deps, { ownerId: creator.id, title: 'Newer one' });
    const backer = await makeUser(ctx.deps);
    const a = await activePledge(older.id, backer, { amount_cents: 1_000 });
    expect((await pledge(newer.id, backer, { amount_cents: 2_000, payment_method: 'pm_card_chargeDeclined' })).status).toBe(402);
    const b = await activePledge(newer.id, backer, { amount_cents: 2_000 });
    const someoneElse = await makeUser(ctx.deps);
    await activePledge(older.id, someoneElse, { amount_cents: 3_000 });

    const res = await ctx.http.get('/v1/me/pledges').set('Authorization', backer.auth);
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: { id: string }) => p.id)).toEqual([b, a]);
    expect(res.body.data[0]).toMatchObject({ id: b, status: 'active', campaign: { id: newer.id, title: 'Newer one', status: 'live' } });
    expect(res.body.next_cursor).toBeNull();
    const paged = await ctx.http.get('/v1/me/pledges?limit=1').set('Authorization', backer.auth);
    expect(paged.body.data.map((p: { id: string }) => p.id)).toEqual([b]);
    const rest = await ctx.http.get(`/v1/me/pledges?limit=1&cursor=${paged.body.next_cursor}`).set('Authorization', backer.auth);
    expect(rest.body.data.map((p: { id: string }) => p.id)).toEqual([a]);
  });
});

describe('PATCH /v1/pledges/{id}', () => {
  it('raises an authorized amount with a new hold under a revision key and voids the old hold', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs: HOUR });
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_000 });

    const res = await edit(id, backer, { amount_cents: 4_000 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, amount_cents: 4_000, status: 'active' });
    expect(await paymentRow(ctx.deps, `pledge:${id}:authorize:1`)).toMatchObject({ kind: 'authorization', status: 'requires_capture', amount_cents: 4_000 });
    expect(await paymentRow(ctx.deps, `pledge:${id}:authorize`)).toMatchObject({ status: 'canceled', amount_cents: 1_000 });
    expect(await ctx.deps.db('pledges').where({ id }).first('payment_key', 'revision')).toEqual({ payment_key: `pledge:${id}:authorize:1`, revision: 1 });
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 4_000, backer_count: 1 });
    expect(await ctx.deps.db('ledger_transactions').where({ pledge_id: id }).orderBy('id').select('kind', 'amount_cents', 'business_key')).toEqual([
      { kind: 'authorization', amount_cents: 1_000, business_key: `pledge:${id}:authorize` },
      { kind: 'authorization', amount_cents: 4_000, business_key: `pledge:${id}:authorize:1` },
      { kind: 'void', amount_cents: 1_000, business_key: `pledge:${id}:authorize:void` },
    ]);

    // And down again: a second revision, the first revision's hold voided.
    const lower = await edit(id, backer, { amount_cents: 2_500 });
    expect(lower.status).toBe(200);
    expect(await paymentRow(ctx.deps, `pledge:${id}:authorize:2`)).toMatchObject({ status: 'requires_capture', amount_cents: 2_500 });
    expect(await paymentRow(ctx.deps, `pledge:${id}:authorize:1`)).toMatchObject({ status: 'canceled' });
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 2_500, backer_count: 1 });
  });

  it('leaves the pledge and its hold as they were when the card refuses the new amount', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs: HOUR });
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_000 });
    // The card on file starts declining (simulated by pointing the pledge at a declining test card).
    await ctx.deps.db('pledges').where({ id }).update({ provider_payment_method: 'pm_card_chargeDeclinedInsufficientFunds' });

    const res = await edit(id, backer, { amount_cents: 9_000 });
    expectProblem(res, 402, 'payment_declined');
    expect(res.body.decline_code).toBe('insufficient_funds');
    expect(await ctx.deps.db('pledges').where({ id }).first('amount_cents', 'status', 'payment_key')).toEqual({
      amount_cents: 1_000,
      status: 'active',
      payment_key: `pledge:${id}:authorize`,
    });
    expect(await paymentRow(ctx.deps, `pledge:${id}:authorize`)).toMatchObject({ status: 'requires_capture' });
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_000, backer_count: 1 });
  });

  it('changes only the amount of a saved-card pledge (charged at the deadline)', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs: 10 * DAY });
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_000 });
    const res = await edit(id, backer, { amount_cents: 1_750 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ amount_cents: 1_750, payment_mode: 'save_card' });
    expect(await ctx.deps.db('payments').whereLike('business_key', `pledge:${id}:%`).pluck('business_key')).toEqual([`pledge:${id}:setup`]);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_750, backer_count: 1 });
  });

  it('moves between tiers in one step, refuses a sold-out tier or an amount below the minimum, and removes the tier with null', async () => {
    const campaign = await makeCampaign(ctx.deps, {
      ownerId: creator.id,
      tiers: [
        { minAmountCents: 1_000, quantity: 5 },
        { minAmountCents: 5_000, quantity: 1 },
      ],
    });
    const small = campaign.tiers[0]!;
    const big = campaign.tiers[1]!;
    const backer = await makeUser(ctx.deps);
    const rival = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_000, reward_tier_id: small.id });

    expectProblem(await edit(id, backer, { reward_tier_id: big.id }), 422, 'below_reward_minimum');
    const up = await edit(id, backer, { reward_tier_id: big.id, amount_cents: 5_000 });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ reward_tier_id: big.id, amount_cents: 5_000 });
    expect([await claimed(ctx.deps, small.id), await claimed(ctx.deps, big.id)]).toEqual([0, 1]);

    const rivalId = await activePledge(campaign.id, rival, { amount_cents: 6_000, reward_tier_id: small.id });
    const taken = await edit(rivalId, rival, { reward_tier_id: big.id });
    expectProblem(taken, 409, 'reward_sold_out');
    expect(await ctx.deps.db('pledges').where({ id: rivalId }).first('reward_tier_id', 'amount_cents')).toEqual({ reward_tier_id: small.id, amount_cents: 6_000 });
    expect([await claimed(ctx.deps, small.id), await claimed(ctx.deps, big.id)]).toEqual([1, 1]);

    const none = await edit(id, backer, { reward_tier_id: null });
    expect(none.status).toBe(200);
    expect(none.body.reward_tier_id).toBeNull();
    expect(await claimed(ctx.deps, big.id)).toBe(0);
    // The freed slot is the rival's now.
    expect((await edit(rivalId, rival, { reward_tier_id: big.id })).status).toBe(200);
    expect([await claimed(ctx.deps, small.id), await claimed(ctx.deps, big.id)]).toEqual([0, 1]);

    const other = await makeCampaign(ctx.deps, { ownerId: creator.id, tiers: [{ minAmountCents: 100 }] });
    expectProblem(await edit(id, backer, { reward_tier_id: other.tiers[0]!.id }), 422, 'invalid_reward_tier');
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 11_000, backer_count: 2 });
  });

  it('is for the backer of an active pledge on a live campaign only', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id });
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_000 });
    const stranger = await makeUser(ctx.deps);
    expectProblem(await edit(id, stranger, { amount_cents: 2_000 }), 404, 'not_found');
    expectProblem(await edit(id, creator, { amount_cents: 2_000 }), 403, 'forbidden');
    expectProblem(await edit(id, operator, { amount_cents: 2_000 }), 403, 'forbidden');
    expectProblem(await edit(id, backer, { amount_cents: 0 }), 400, 'validation_failed');
    expectProblem(await edit(id, backer, { currency: 'EUR' }), 400, 'validation_failed');

    await ctx.deps.db('campaigns').where({ id: campaign.id }).update({ status: 'succeeded' });
    expectProblem(await edit(id, backer, { amount_cents: 2_000 }), 422, 'campaign_not_live');
    await ctx.deps.db('campaigns').where({ id: campaign.id }).update({ status: 'live' });

    expect((await cancel(id, backer)).status).toBe(200);
    expectProblem(await edit(id, backer, { amount_cents: 2_000 }), 409, 'pledge_not_editable');
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
  });
});

describe('DELETE /v1/pledges/{id}', () => {
  it('voids the hold, frees the slot for the next backer and takes the pledge out of the totals', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, endsInMs: HOUR, tiers: [{ minAmountCents: 1_000, quantity: 1 }] });
    const tierId = campaign.tiers[0]!.id;
    const first = await makeUser(ctx.deps);
    const next = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, first, { amount_cents: 2_000, reward_tier_id: tierId });
    expectProblem(await pledge(campaign.id, next, { amount_cents: 1_000, reward_tier_id: tierId, payment_method: 'pm_card_visa' }), 409, 'reward_sold_out');

    const res = await cancel(id, first);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, status: 'cancelled', cancelled_at: expect.any(String) });
    expect(await paymentRow(ctx.deps, `pledge:${id}:authorize`)).toMatchObject({ status: 'canceled' });
    expect(await claimed(ctx.deps, tierId)).toBe(0);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
    expect(await ctx.deps.db('ledger_transactions').where({ pledge_id: id }).orderBy('id').select('kind', 'amount_cents', 'business_key')).toEqual([
      { kind: 'authorization', amount_cents: 2_000, business_key: `pledge:${id}:authorize` },
      { kind: 'void', amount_cents: 2_000, business_key: `pledge:${id}:authorize:void` },
    ]);
    const events = await readCampaignEventsAfter(ctx.deps.redis, campaign.id, STREAM_START_ID);
    expect(events.map((e) => e.event).at(-1)).toEqual({ type: 'progress', pledged_cents: 0, backer_count: 0, percent_funded: 0 });

    // Repeating the DELETE is harmless.
    const again = await cancel(id, first);
    expect(again.status).toBe(200);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });

    const taken = await pledge(campaign.id, next, { amount_cents: 1_000, reward_tier_id: tierId, payment_method: 'pm_card_visa' });
    expect(taken.status).toBe(201);
    expect(await claimed(ctx.deps, tierId)).toBe(1);
    // A cancelled pledge does not stop its backer from pledging again.
    expect((await pledge(campaign.id, first, { amount_cents: 500, payment_method: 'pm_card_visa' })).status).toBe(201);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 1_500, backer_count: 2 });
  });

  it('is for the backer only, and only while the campaign is live', async () => {
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id });
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(campaign.id, backer, { amount_cents: 1_000 });
    const stranger = await makeUser(ctx.deps);
    expectProblem(await cancel(id, stranger), 404, 'not_found');
    expectProblem(await cancel(id, creator), 403, 'forbidden');
    await ctx.deps.db('campaigns').where({ id: campaign.id }).update({ ends_at: new Date(Date.now() - 1_000) });
    expectProblem(await cancel(id, backer), 422, 'campaign_not_live');
    expect(await ctx.deps.db('pledges').where({ id }).first('status')).toEqual({ status: 'active' });
  });
});

describe('the last-window rule (PLEDGE_LOCK_WINDOW)', () => {
  it('refuses a cancel or reduction that takes a funded all-or-nothing campaign below its goal in the last window', async () => {
    // Ends in 5 minutes: inside the 10-minute lock window.
    const campaign = await makeCampaign(ctx.deps, { ownerId: creator.id, goalCents: 10_000, endsInMs: 5 * 60 * 1000 });
    const a = await makeUser(ctx.deps);
    const b = await makeUser(ctx.deps);
    const pa = await activePledge(campaign.id, a, { amount_cents: 6_000 });
    const pb = await activePledge(campaign.id, b, { amount_cents: 5_000 });

    expectProblem(await cancel(pb, b), 409, 'would_drop_below_goal');
    expectProblem(await edit(pa, a, { amount_cents: 4_000 }), 409, 'would_drop_below_goal');
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 11_000, backer_count: 2 });
    expect(await paymentRow(ctx.deps, `pledge:${pb}:authorize`)).toMatchObject({ status: 'requires_capture' });
    // No hold was placed for the refused reduction.
    expect(await paymentRow(ctx.deps, `pledge:${pa}:authorize:1`)).toBeUndefined();

    // Reductions that keep the goal, and raises, are fine.
    expect((await edit(pa, a, { amount_cents: 5_000 })).status).toBe(200);
    expect((await edit(pb, b, { amount_cents: 9_000 })).status).toBe(200);
    expect(await campaignTotals(ctx.deps, campaign.id)).toEqual({ pledged_cents: 14_000, backer_count: 2 });
    // 14,000 - 5,000 would leave 9,000 of a 10,000 goal.
    expectProblem(await cancel(pa, a), 409, 'would_drop_below_goal');
  });

  it('does not apply before the window, to flexible campaigns, or to campaigns still below their goal', async () => {
    const early = await makeCampaign(ctx.deps, { ownerId: creator.id, goalCents: 10_000, endsInMs: HOUR });
    const flexible = await makeCampaign(ctx.deps, { ownerId: creator.id, goalCents: 10_000, endsInMs: 5 * 60 * 1000, fundingModel: 'flexible' });
    const short = await makeCampaign(ctx.deps, { ownerId: creator.id, goalCents: 10_000, endsInMs: 5 * 60 * 1000 });
    for (const campaign of [early, flexible]) {
      const backer = await makeUser(ctx.deps);
      const id = await activePledge(campaign.id, backer, { amount_cents: 12_000 });
      expect((await edit(id, backer, { amount_cents: 1_000 })).status).toBe(200);
      expect((await cancel(id, backer)).status).toBe(200);
    }
    const backer = await makeUser(ctx.deps);
    const id = await activePledge(short.id, backer, { amount_cents: 9_000 });
    expect((await cancel(id, backer)).status).toBe(200);
  });
});
