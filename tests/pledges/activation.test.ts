import supertest from 'supertest';
import { createApp } from '../../src/api/app';
import type { AppDeps } from '../../src/api/deps';
import type { AuthorizeInput, PaymentGateway } from '../../src/payments/gateway';
import { closeDeps, createTestDeps, testConfig } from '../helpers/context';
import { postPledge } from '../helpers/api';
import { campaignTotals, makeCampaign, makeUser, type TestUser } from '../helpers/fixtures';
import { expectProblem } from '../helpers/problems';
import { claimed, countRows, paymentRow } from './fixtures';

/**
 * A new pledge is written in two statements around the provider call (src/campaigns/pledgeWrites.ts). These
 * tests pin what the second one leaves when the world moved while the provider was answering.
 */

const HOUR = 60 * 60 * 1000;

let deps: AppDeps;
let http: supertest.Agent;
let creator: TestUser;
/** Runs after the provider placed the hold and before the pledge service hears about it. */
let whileAuthorizing: (() => Promise<void>) | undefined;

beforeAll(async () => {
  deps = createTestDeps(testConfig());
  const real = deps.payments;
  // The real simulated gateway, with a hook between its answer and the caller.
  deps.payments = Object.assign(Object.create(real) as PaymentGateway, {
    authorize: async (input: AuthorizeInput) => {
      const answer = await real.authorize(input);
      await whileAuthorizing?.();
      return answer;
    },
  });
  http = supertest.agent(createApp(deps));
  creator = await makeUser(deps, { role: 'creator' });
});
afterEach(() => {
  whileAuthorizing = undefined;
});
afterAll(() => closeDeps(deps));

describe('a new pledge whose campaign is decided while the provider answers', () => {
  it('answers 422 campaign_not_live, voids the hold, frees the slot and counts nothing', async () => {
    const campaign = await makeCampaign(deps, { ownerId: creator.id, endsInMs: HOUR, tiers: [{ minAmountCents: 1_000, quantity: 1 }] });
    const tierId = campaign.tiers[0]!.id;
    const backer = await makeUser(deps);
    whileAuthorizing = async () => {
      await deps.db('campaigns').where({ id: campaign.id }).update({ status: 'failed' });
    };

    const res = await postPledge(http, campaign.id, backer, { amount_cents: 2_000, reward_tier_id: tierId, payment_method: 'pm_card_visa' });

    expectProblem(res, 422, 'campaign_not_live');
    const pledge = await deps.db('pledges').where({ campaign_id: campaign.id, backer_id: backer.id }).first('id', 'status', 'failure_code');
    expect(pledge).toMatchObject({ status: 'cancelled', failure_code: 'campaign_not_live' });
    const hold = await paymentRow(deps, `pledge:${pledge.id}:authorize`);
    expect(hold).toMatchObject({ status: 'canceled' });
    const intent = await deps.db('sim_payment_intents').where({ id: hold!.provider_payment_id }).first('status');
    expect(intent).toEqual({ status: 'canceled' });
    expect(await claimed(deps, tierId)).toBe(0);
    await deps.db('campaigns').where({ id: campaign.id }).update({ status: 'live' });
    expect(await campaignTotals(deps, campaign.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
    // The aborted statement kept nothing: no ledger line, no notification, no webhook.
    expect(await countRows(deps, 'ledger_transactions', (q) => q.where({ pledge_id: pledge.id }))).toBe(0);
    expect(await deps.db('notifications').where({ dedupe_key: `pledge_received:${pledge.id}` }).first()).toBeUndefined();
  });
});

describe('pledges activated together (one statement for a hot campaign\'s batch)', () => {
  it('all count exactly when the campaign stays live, and none counts when it is decided while they are being authorized', async () => {
    const live = await makeCampaign(deps, { ownerId: creator.id, endsInMs: HOUR });
    const backers = await Promise.all(Array.from({ length: 12 }, () => makeUser(deps)));
    const ok = await Promise.all(backers.map((b, i) => postPledge(http, live.id, b, { amount_cents: 1_000 + i, payment_method: 'pm_card_visa' })));
    expect(ok.map((r) => r.status)).toEqual(backers.map(() => 201));
    expect(await campaignTotals(deps, live.id)).toEqual({ pledged_cents: 12 * 1_000 + 66, backer_count: 12 });
    expect(await countRows(deps, 'ledger_transactions', (q) => q.where({ campaign_id: live.id, kind: 'authorization' }))).toBe(12);

    const closing = await makeCampaign(deps, { ownerId: creator.id, endsInMs: HOUR });
    // Every hold is placed before the campaign is decided, so all of them reach the activation together.
    let authorized = 0;
    let allAuthorized!: () => void;
    const barrier = new Promise<void>((resolve) => (allAuthorized = resolve));
    whileAuthorizing = async () => {
      if (++authorized === backers.length) {
        await deps.db('campaigns').where({ id: closing.id }).update({ status: 'failed' });
        allAuthorized();
      }
      await barrier;
    };
    const refused = await Promise.all(backers.map((b) => postPledge(http, closing.id, b, { amount_cents: 2_000, payment_method: 'pm_card_visa' })));
    for (const res of refused) expectProblem(res, 422, 'campaign_not_live');
    expect(await countRows(deps, 'pledges', (q) => q.where({ campaign_id: closing.id, status: 'cancelled' }))).toBe(backers.length);
    expect(await countRows(deps, 'ledger_transactions', (q) => q.where({ campaign_id: closing.id }))).toBe(0);
    expect(await campaignTotals(deps, closing.id)).toEqual({ pledged_cents: 0, backer_count: 0 });
  });
});

describe('pledges opened together (one statement for a hot campaign\'s batch)', () => {
  it('a backer pledging twice at once among others gets one pledge and one 409 already_pledged; everyone else is accepted', async () => {
    const campaign = await makeCampaign(deps, { ownerId: creator.id, endsInMs: HOUR, tiers: [{ minAmountCents: 1_000 }] });
    const twice = await makeUser(deps);
    const others = await Promise.all(Array.from({ length: 10 }, () => makeUser(deps)));
    const body = (amount: number) => ({ amount_cents: amount, reward_tier_id: campaign.tiers[0]!.id, payment_method: 'pm_card_visa' });
    // The same backer twice with two different pledges (two Idempotency-Keys) in the middle of a burst, so both
    // can land in one batch. (The same body twice would be a retry of one pledge, answered 201 twice.)
    const requests = [
      ...others.slice(0, 5).map((b) => [b, 1_000] as const),
      [twice, 2_000] as const,
      [twice, 3_000] as const,
      ...others.slice(5).map((b) => [b, 1_000] as const),
    ];
    const responses = await Promise.all(requests.map(([b, amount]) => postPledge(http, campaign.id, b, body(amount))));

    const mine = responses.filter((_, i) => requests[i]![0] === twice);
    expect(mine.map((r) => r.status).sort()).toEqual([201, 409]);
    expectProblem(mine.find((r) => r.status === 409)!, 409, 'already_pledged');
    const kept = mine.find((r) => r.status === 201)!.body.amount_cents as number;
    expect(responses.filter((_, i) => requests[i]![0] !== twice).map((r) => r.status)).toEqual(others.map(() => 201));
    expect(await campaignTotals(deps, campaign.id)).toEqual({ pledged_cents: 10_000 + kept, backer_count: 11 });
    expect(await claimed(deps, campaign.tiers[0]!.id)).toBe(11);
  });
});

describe('the payment record a new pledge leaves', () => {
  it('has the same rows and events the step-by-step payment service writes: created, then authorize', async () => {
    const campaign = await makeCampaign(deps, { ownerId: creator.id, endsInMs: HOUR });
    const backer = await makeUser(deps);
    const res = await postPledge(http, campaign.id, backer, { amount_cents: 1_500, payment_method: 'pm_card_visa' });
    expect(res.status).toBe(201);

    const payment = await deps.db('payments').where({ business_key: `pledge:${res.body.id}:authorize` }).first();
    expect(payment).toMatchObject({
      provider: 'simulated',
      kind: 'authorization',
      status: 'requires_capture',
      amount_cents: 1_500,
      currency: 'usd',
      captured_cents: 0,
      customer_ref: backer.id,
      payment_method: 'pm_card_visa',
      provider_payment_id: expect.stringMatching(/^pi_/),
    });
    const events = await deps.db('payment_events').where({ payment_id: payment.id }).orderBy('id').select('type', 'from_status', 'to_status', 'data');
    expect(events).toEqual([
      { type: 'created', from_status: null, to_status: 'pending', data: { kind: 'authorization' } },
      {
        type: 'authorize',
        from_status: 'pending',
        to_status: 'requires_capture',
        data: { provider_payment_id: payment.provider_payment_id, captured_cents: 0, refunded_cents: 0 },
      },
    ]);
    // The provider's own record agrees, under the pledge's business key.
    const intent = await deps.db('sim_payment_intents').where({ id: payment.provider_payment_id }).first('status', 'amount_cents', 'metadata');
    expect(intent).toMatchObject({ status: 'requires_capture', amount_cents: 1_500, metadata: { business_key: `pledge:${res.body.id}:authorize`, pledge_id: res.body.id } });
  });
});
