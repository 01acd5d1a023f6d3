import { randomUUID } from 'node:crypto';
import { ledgerSummary } from '../../src/campaigns/ledger';
import { createTestContext, startTestWorker, testConfig, type TestContext } from '../helpers/context';
import { bearer, makePledges, setDraftDeadline, makeUsers, takenByPledge } from '../helpers/fixtures';
import { eventually } from '../helpers/wait';
import { startWorkerProcess, type Running } from '../startup/processHelpers';

/**
 * A worker process is SIGKILLed in the middle of a campaign's settlement (no graceful shutdown, no chance to
 * finish its batch), and a new worker takes over. Every pledge must end up collected exactly once — counted
 * in the simulated gateway's own intents — and the campaign settled, with the ledger reconciled.
 */
const PLEDGES = 400;

describe('worker crash during settlement', () => {
  let ctx: TestContext;
  let child: Running | undefined;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;

  beforeAll(() => {
    ctx = createTestContext(
      // Saved cards charged off-session at the deadline, one at a time, in small batches: a long settlement.
      testConfig({ HOLD_WINDOW: '1', SETTLEMENT_BATCH_SIZE: '40', SETTLEMENT_CONCURRENCY: '1' }),
    );
  });
  afterAll(async () => {
    child?.child.kill('SIGKILL');
    await worker?.stop();
    await ctx.close();
  });

  it('collects every pledge exactly once after a worker is killed mid-settlement', async () => {
    const { config, db } = ctx.deps;
    const [creatorId] = await makeUsers(ctx.deps, 1, 'creator');
    const created = await ctx.http
      .post('/v1/campaigns')
      .set('Authorization', bearer(ctx.deps, creatorId!))
      .send({
        title: `Crash ${randomUUID().slice(0, 8)}`,
        description: 'Settlement survives a killed worker',
        category: 'technology',
        goal_cents: 10_000,
        currency: 'USD',
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
        reward_tiers: [{ title: 'Thanks', min_amount_cents: 500 }],
      });
    expect(created.status).toBe(201);
    const campaign = { id: created.body.id as string, ownerId: creatorId!, tierId: created.body.reward_tiers[0].id as string };

    const backers = await makeUsers(ctx.deps, PLEDGES);
    const pledgeIds = await makePledges(
      ctx.deps,
      campaign,
      backers.map((backerId, i) => ({ backerId, amountCents: 500 + i, mode: 'save_card' as const })),
    );
    await setDraftDeadline(ctx.deps, campaign.id, 8_000);
    const launched = await ctx.http.post(`/v1/campaigns/${campaign.id}/launch`).set('Authorization', bearer(ctx.deps, creatorId!)).send({});
    expect(launched.status).toBe(200);

    // The first worker is a separate OS process, so it can really be killed.
    child = startWorkerProcess(config, { settings: { HOLD_WINDOW: '1', SETTLEMENT_BATCH_SIZE: '40', SETTLEMENT_CONCURRENCY: '1' } });
    const collected = async () =>
      Number((await db('pledges').where({ campaign_id: campaign.id, status: 'collected' }).count<{ count: string }[]>('* as count'))[0]!.count);

    await eventually(async () => (await collected()) >= 60, 60_000, 'settlement under way in the first worker');
    child.child.kill('SIGKILL');
    const exited = await child.exited;
    expect(exited.signal).toBe('SIGKILL');
    const atKill = await collected();
    expect(atKill).toBeLessThan(PLEDGES); // really killed in the middle

    // A new worker picks the batch up once the dead one's heartbeat times out, resuming from its cursor.
    worker = await startTestWorker(ctx.deps);
    await eventually(
      async () => (await db('campaigns').where({ id: campaign.id }).first('status')).status === 'settled',
      120_000,
      'campaign settled by the second worker',
    );

    const statuses = await db('pledges').where({ campaign_id: campaign.id }).groupBy('status').select('status').count('* as n');
    expect(statuses).toEqual([{ status: 'collected', n: PLEDGES }]);
    const taken = await takenByPledge(ctx.deps, pledgeIds);
    for (const [i, id] of pledgeIds.entries()) {
      // Exactly one charge intent per pledge at the gateway, for exactly the pledged amount.
      expect({ id, ...taken.get(id) }).toEqual({ id, intents: 1, charged: 1, capturedCents: 500 + i });
    }
    const ledger = await ledgerSummary(db, campaign.id);
    expect(ledger.reconciled).toBe(true);
    expect(ledger.netCollectedCents).toBe(pledgeIds.reduce((sum, _id, i) => sum + 500 + i, 0));
  }, 240_000);
});
