import { randomUUID } from 'node:crypto';
import { ledgerSummary } from '../../src/campaigns/ledger';
import { postPledge, registerAccount, type RegisteredAccount } from '../helpers/api';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { gatewayIntents } from '../helpers/fixtures';
import { listen } from '../helpers/server';
import { connectSse, type SseClient } from '../helpers/sse';
import { eventually } from '../helpers/wait';

/**
 * The whole crowdfunding flow over HTTP against a real worker: create → launch → pledges → deadline →
 * decision → settlement, for both payment modes (hold now and capture later; save the card and charge
 * off-session), a missed goal and flexible funding. Money is checked in the simulated gateway's own
 * records and in the ledger, not only in our pledge rows.
 */

async function createCampaign(
  ctx: TestContext,
  creator: RegisteredAccount,
  opts: { goalCents: number; endsInSeconds: number; fundingModel?: 'all_or_nothing' | 'flexible'; tierQuantity?: number },
) {
  const res = await ctx.http
    .post('/v1/campaigns')
    .set('Authorization', creator.auth)
    .send({
      title: `Flow ${randomUUID().slice(0, 8)}`,
      description: 'An end-to-end crowdfunding test',
      category: 'technology',
      goal_cents: opts.goalCents,
      currency: 'USD',
      ends_at: new Date(Date.now() + opts.endsInSeconds * 1000).toISOString(),
      funding_model: opts.fundingModel ?? 'all_or_nothing',
      reward_tiers: [{ title: 'Early bird', min_amount_cents: 1_000, quantity: opts.tierQuantity ?? 10 }],
    });
  expect(res.status).toBe(201);
  expect(res.body.status).toBe('draft');
  const launched = await ctx.http.post(`/v1/campaigns/${res.body.id}/launch`).set('Authorization', creator.auth).send({});
  expect(launched.status).toBe(200);
  expect(launched.body.status).toBe('live');
  return { id: res.body.id as string, tierId: res.body.reward_tiers[0].id as string };
}

async function waitForStatus(ctx: TestContext, campaignId: string, status: string, timeoutMs = 45_000) {
  return eventually(
    async () => {
      const res = await ctx.http.get(`/v1/campaigns/${campaignId}`);
      return res.body.status === status ? res.body : undefined;
    },
    timeoutMs,
    `campaign ${status}`,
  );
}

describe.each([
  // Deadline well inside the hold window: authorize at pledge time, capture at the deadline.
  ['authorize', '3600'],
  // Deadline beyond the (tiny) hold window: save the card now, charge off-session at the deadline.
  ['save_card', '1'],
])('campaign happy path with payment mode %s', (mode, holdWindow) => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  let server: Awaited<ReturnType<typeof listen>>;
  let sse: SseClient | undefined;

  beforeAll(async () => {
    ctx = createTestContext(testConfig({ HOLD_WINDOW: holdWindow, SSE_KEEPALIVE: '1', OUTBOX_POLL_INTERVAL: '200ms' }));
    worker = await startTestWorker(ctx.deps);
    server = await listen(ctx.app);
  });
  afterAll(async () => {
    sse?.close();
    await server?.close();
    await worker?.stop();
    await ctx?.close();
  });

  it('collects every active pledge exactly once and settles, with totals matching the ledger', async () => {
    const creator = await registerAccount(ctx.http, { role: 'creator' });
    const backers = await Promise.all(Array.from({ length: 5 }, () => registerAccount(ctx.http, { role: 'backer' })));
    const campaign = await createCampaign(ctx, creator, { goalCents: 5_000, endsInSeconds: 10 });

    sse = await connectSse(`${server.url}/v1/campaigns/${campaign.id}/events`);
    expect(sse.status).toBe(200);

    const ok = { amount_cents: 2_000, reward_tier_id: campaign.tierId, payment_method: 'pm_card_visa' };
    const firstKey = randomUUID();
    const accepted = [];
    for (const [i, backer] of backers.slice(0, 3).entries()) {
      const res = await postPledge(ctx.http, campaign.id, backer, ok, i === 0 ? firstKey : undefined);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'active', payment_mode: mode, amount_cents: 2_000 });
      accepted.push(res.body.id as string);
    }
    // A retry of the first request (same key, same body) replays the first answer and pledges nothing new.
    const replay = await postPledge(ctx.http, campaign.id, backers[0]!, ok, firstKey);
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(accepted[0]);

    const declined = await postPledge(ctx.http, campaign.id, backers[3]!, { ...ok, payment_method: 'pm_card_chargeDeclined' });
    expect(declined.status).toBe(402);
    expect(declined.body.code).toBe('payment_declined');

    const needsAction = await postPledge(ctx.http, campaign.id, backers[4]!, { ...ok, payment_method: 'pm_card_authenticationRequired' });
    expect(needsAction.status).toBe(402);
    expect(needsAction.body.code).toBe('requires_action');
    expect(needsAction.body.next_action.client_secret).toEqual(expect.any(String));

    // Progress reaches SSE clients for pledges made through other requests.
    await eventually(
      () => sse!.events.some((e) => e.event === 'progress' && JSON.parse(e.data).backer_count === 3),
      10_000,
      'progress event with 3 backers',
    );
    const live = await ctx.http.get(`/v1/campaigns/${campaign.id}`);
    expect(live.body).toMatchObject({ pledged_cents: 6_000, backer_count: 3, percent_funded: 120 });
    // Three active pledges and one awaiting authentication hold slots; the declined one gave its slot back.
    expect(live.body.reward_tiers[0].remaining).toBe(6);

    const settled = await waitForStatus(ctx, campaign.id, 'settled');
    expect(settled.outcome).toBe('succeeded');
    expect(settled.collected_cents).toBe(6_000);

    for (const id of accepted) {
      const p = await ctx.http.get(`/v1/pledges/${id}`).set('Authorization', creator.auth);
      expect(p.body.status).toBe('collected');
      const intents = await gatewayIntents(ctx.deps, id);
      const taken = intents.filter((i) => i.status === 'succeeded');
      // Exactly one money movement per pledge at the provider, for the pledged amount.
      expect(taken).toHaveLength(1);
      expect(taken[0]!.captured_cents).toBe(2_000);
      expect(taken[0]!.capture_method).toBe(mode === 'authorize' ? 'manual' : 'automatic');
    }
    // The pledge that never finished authentication is voided at the deadline, not left holding a slot.
    const abandoned = await ctx.deps.db('pledges').where({ id: needsAction.body.pledge_id }).first('status');
    expect(abandoned.status).toBe('voided');

    const ledger = await ledgerSummary(ctx.deps.db, campaign.id);
    expect(ledger.reconciled).toBe(true);
    expect(ledger.netCollectedCents).toBe(6_000);

    // The creator heard of every pledge; every backer heard of the outcome.
    const inbox = await ctx.http.get('/v1/me/notifications').set('Authorization', creator.auth);
    expect(inbox.body.data.filter((n: { type: string }) => n.type === 'pledge_received')).toHaveLength(3);
    for (const backer of backers.slice(0, 3)) {
      const mine = await ctx.http.get('/v1/me/notifications').set('Authorization', backer.auth);
      expect(mine.body.data.map((n: { type: string }) => n.type)).toContain('campaign_succeeded');
    }
    const statuses = sse.events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status);
    expect(statuses).toEqual(expect.arrayContaining(['succeeded', 'settled']));
  });
});

describe('campaign outcomes', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  beforeAll(async () => {
    ctx = createTestContext(testConfig({ HOLD_WINDOW: '3600', OUTBOX_POLL_INTERVAL: '200ms' }));
    worker = await startTestWorker(ctx.deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx?.close();
  });

  it('voids every hold and captures nothing when an all-or-nothing goal is missed', async () => {
    const creator = await registerAccount(ctx.http, { role: 'creator' });
    const backers = await Promise.all([registerAccount(ctx.http, { role: 'backer' }), registerAccount(ctx.http, { role: 'backer' })]);
    const campaign = await createCampaign(ctx, creator, { goalCents: 100_000, endsInSeconds: 6 });
    const ids = [];
    for (const backer of backers) {
      const res = await postPledge(ctx.http, campaign.id, backer, { amount_cents: 1_500, payment_method: 'pm_card_visa' });
      expect(res.status).toBe(201);
      ids.push(res.body.id as string);
    }
    const settled = await waitForStatus(ctx, campaign.id, 'settled');
    expect(settled.outcome).toBe('failed');
    expect(settled.collected_cents).toBe(0);
    for (const id of ids) {
      expect((await ctx.deps.db('pledges').where({ id }).first('status')).status).toBe('voided');
      const intents = await gatewayIntents(ctx.deps, id);
      expect(intents).toHaveLength(1);
      expect(intents[0]).toMatchObject({ status: 'canceled', captured_cents: 0 });
    }
    const ledger = await ledgerSummary(ctx.deps.db, campaign.id);
    expect(ledger.byKind.void).toBe(3_000);
    expect(ledger.byKind.capture + ledger.byKind.charge).toBe(0);
    expect(ledger.netCollectedCents).toBe(0);
    const mine = await ctx.http.get('/v1/me/notifications').set('Authorization', backers[0]!.auth);
    expect(mine.body.data.map((n: { type: string }) => n.type)).toContain('campaign_failed');
  });

  it('collects a flexible campaign below its goal anyway', async () => {
    const creator = await registerAccount(ctx.http, { role: 'creator' });
    const backer = await registerAccount(ctx.http, { role: 'backer' });
    const campaign = await createCampaign(ctx, creator, { goalCents: 100_000, endsInSeconds: 5, fundingModel: 'flexible' });
    const res = await postPledge(ctx.http, campaign.id, backer, { amount_cents: 2_500, payment_method: 'pm_card_visa' });
    expect(res.status).toBe(201);
    const settled = await waitForStatus(ctx, campaign.id, 'settled');
    expect(settled.outcome).toBe('succeeded');
    expect(settled.collected_cents).toBe(2_500);
    const intents = await gatewayIntents(ctx.deps, res.body.id);
    expect(intents.filter((i) => i.status === 'succeeded')).toHaveLength(1);
  });
});
