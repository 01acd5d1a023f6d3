import { randomUUID } from 'node:crypto';
import { ledgerSummary } from '../../src/campaigns/ledger';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bearer, makePledges, setDraftDeadline, makeUsers, takenByPledge } from '../helpers/fixtures';
import { CONTINUE_AS_NEW_SUGGESTED_AT } from '../helpers/testEnv';
import { eventually } from '../helpers/wait';

/**
 * A settlement long enough that Temporal suggests continue-as-new (the test server suggests it after
 * CONTINUE_AS_NEW_SUGGESTED_AT events): the campaign workflow must continue as new mid-settlement, carry its
 * cursor over, and still collect every pledge exactly once.
 */
describe('campaign settlement across continue-as-new', () => {
  let ctx: TestContext;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;
  beforeAll(async () => {
    ctx = createTestContext(testConfig({ HOLD_WINDOW: '1', SETTLEMENT_BATCH_SIZE: '3', SETTLEMENT_CONCURRENCY: '2' }));
    worker = await startTestWorker(ctx.deps);
  });
  afterAll(async () => {
    await worker?.stop();
    await ctx.close();
  });

  it('continues as new with its cursor and collects every pledge once', async () => {
    const [creatorId] = await makeUsers(ctx.deps, 1, 'creator');
    const created = await ctx.http
      .post('/v1/campaigns')
      .set('Authorization', bearer(ctx.deps, creatorId!))
      .send({
        title: `Long settlement ${randomUUID().slice(0, 8)}`,
        description: 'Many small batches',
        category: 'technology',
        goal_cents: 1_000,
        currency: 'USD',
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
        reward_tiers: [{ title: 'Thanks', min_amount_cents: 500 }],
      });
    expect(created.status).toBe(201);
    const campaign = { id: created.body.id as string, ownerId: creatorId!, tierId: created.body.reward_tiers[0].id as string };
    // 30 batches of 3: far more history than the server lets one run keep before suggesting a new one.
    const backers = await makeUsers(ctx.deps, 90);
    const pledgeIds = await makePledges(ctx.deps, campaign, backers.map((backerId) => ({ backerId, amountCents: 700, mode: 'save_card' as const })));
    await setDraftDeadline(ctx.deps, campaign.id, 5_000);
    const launched = await ctx.http.post(`/v1/campaigns/${campaign.id}/launch`).set('Authorization', bearer(ctx.deps, creatorId!)).send({});
    expect(launched.status).toBe(200);

    await eventually(
      async () => (await ctx.deps.db('campaigns').where({ id: campaign.id }).first('status')).status === 'settled',
      90_000,
      'campaign settled',
    );

    const client = await ctx.deps.temporal.client();
    // The row says settled just before the last run returns; result() follows the continue-as-new chain.
    await client.workflow.getHandle(`campaign:${campaign.id}`).result();
    const runs = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = 'campaign:${campaign.id}'` })) runs.push(w.status.name);
    // At least one run ended by continuing as new, and the last one completed.
    expect(runs).toContain('CONTINUED_AS_NEW');
    expect(runs).toContain('COMPLETED');
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(CONTINUE_AS_NEW_SUGGESTED_AT).toBeLessThan(90);

    const taken = await takenByPledge(ctx.deps, pledgeIds);
    for (const id of pledgeIds) expect({ id, ...taken.get(id) }).toEqual({ id, intents: 1, charged: 1, capturedCents: 700 });
    const ledger = await ledgerSummary(ctx.deps.db, campaign.id);
    expect(ledger.reconciled).toBe(true);
    expect(ledger.netCollectedCents).toBe(90 * 700);
  }, 120_000);
});
