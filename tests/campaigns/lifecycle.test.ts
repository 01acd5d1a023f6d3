import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { applyTotalsDelta } from '../../src/campaigns/liveTotals';
import { campaignSummary } from '../../src/domain/campaigns';
import { CampaignId, CampaignStatus } from '../../src/temporal/searchAttributes';
import { registerAccount, registerOperator } from '../helpers/api';
import { createTestContext, startTestWorker, testConfig, uniqueEmail, type TestContext } from '../helpers/context';
import { expectProblem } from '../helpers/problems';
import { eventually } from '../helpers/wait';
import { CAMPAIGN_LIFECYCLE_WORKFLOW, type CampaignLifecycleWorkflow, type LifecycleState, lifecycleStateQuery } from '../../src/campaigns/contract';

/**
 * The campaign lifecycle workflow `campaign:<id>` driven over HTTP with a real worker, every timer in
 * seconds: start, deadline, the decision from Postgres totals, settlement, and the cancel/deadline Updates.
 * No pledge API is involved: the totals the decision reads are set on the row, as the pledge flow would.
 */

const operatorEmail = uniqueEmail('operator');
type Account = { id: string; token: string };

let ctx: TestContext;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let owner: Account;
let stranger: Account;
let operator: Account;

beforeAll(async () => {
  ctx = createTestContext(testConfig());
  worker = await startTestWorker(ctx.deps);
  owner = await registerAccount(ctx.http, { role: 'creator' });
  stranger = await registerAccount(ctx.http, { role: 'creator' });
  operator = await registerOperator(ctx.http, ctx.deps.db, { role: 'backer', email: operatorEmail });
});
afterAll(async () => {
  await worker?.stop();
  await ctx?.close();
});

const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();
const auth = (a: Account) => ({ Authorization: `Bearer ${a.token}` });

async function createCampaign(overrides: Record<string, unknown> = {}, as: Account = owner): Promise<Record<string, any>> {
  const res = await ctx.http
    .post('/v1/campaigns')
    .set(auth(as))
    .send({ title: `Lifecycle ${randomUUID().slice(0, 8)}`, category: 'creative', goal_cents: 100_000, currency: 'USD', ends_at: at(60_000), ...overrides });
  expect(res.status).toBe(201);
  return res.body;
}

const launch = (id: string, as: Account = owner) => ctx.http.post(`/v1/campaigns/${id}/launch`).set(auth(as));
const cancel = (id: string, as: Account = owner) => ctx.http.post(`/v1/campaigns/${id}/cancel`).set(auth(as));
const moveDeadline = (id: string, endsAt: string, as: Account = owner) =>
  ctx.http.post(`/v1/campaigns/${id}/deadline`).set(auth(as)).send({ ends_at: endsAt });
const row = (id: string) => ctx.deps.db('campaigns').where({ id }).first();
/** What the pledge flow does to the totals: the row (which the decision reads), then the live counters. */
async function setPledged(id: string, cents: number, backers: number): Promise<void> {
  const before = await row(id);
  await ctx.deps.db('campaigns').where({ id }).update({ pledged_cents: cents, backer_count: backers });
  await applyTotalsDelta(ctx.deps.redis, id, { pledgedCents: cents - before.pledged_cents, backerCount: backers - before.backer_count });
}

async function handle(id: string): Promise<WorkflowHandle<CampaignLifecycleWorkflow>> {
  return (await ctx.deps.temporal.client()).workflow.getHandle(`campaign:${id}`);
}
const lifecycleState = async (id: string): Promise<LifecycleState> => (await handle(id)).query(lifecycleStateQuery);

/** Workflow state, visibility and rows settle on worker timers: check every 150 ms, for up to 30 s. */
const waitFor = <T>(what: string, probe: () => Promise<T>) => eventually(probe, 30_000, what, 150);

const statusIs = (id: string, ...statuses: string[]) =>
  waitFor(`campaign ${id} to be ${statuses.join('|')}`, async () => {
    const r = await row(id);
    return statuses.includes(r.status) ? r : undefined;
  });

describe('launch', () => {
  it('goes scheduled, then live by itself at starts_at, then fails at the deadline with the goal missed, then settles', async () => {
    const startsAt = at(2_000);
    const endsAt = at(5_000);
    const c = await createCampaign({ starts_at: startsAt, ends_at: endsAt });

    const launched = await launch(c.id);
    expect(launched.status).toBe(200);
    expect(launched.body).toMatchObject({ id: c.id, status: 'scheduled', launched_at: expect.any(String) });
    expect((await waitFor('the workflow to report scheduled', async () => (await lifecycleState(c.id)).phase === 'scheduled' || undefined))).toBe(true);

    const live = await statusIs(c.id, 'live');
    expect(Date.now()).toBeGreaterThanOrEqual(new Date(startsAt).getTime());
    expect(live.outcome).toBeNull();
    expect((await ctx.http.get(`/v1/campaigns/${c.id}`)).body.status).toBe('live');

    await setPledged(c.id, 40_000, 3);
    const decided = await statusIs(c.id, 'failed', 'settled');
    expect(decided.outcome).toBe('failed');
    expect(decided.decided_at.getTime()).toBeGreaterThanOrEqual(new Date(endsAt).getTime());

    const settled = await statusIs(c.id, 'settled');
    expect(settled.settled_at).toBeInstanceOf(Date);
    expect(await (await handle(c.id)).result()).toEqual({ outcome: 'failed', processed: 0, collected: 0, failed: 0, voided: 0 });
    const state = await lifecycleState(c.id);
    expect(state).toMatchObject({ phase: 'settled', outcome: 'failed', cancelled: false, pledgedCents: 40_000, backerCount: 3 });
    const desc = await (await handle(c.id)).describe();
    expect(desc.typedSearchAttributes.get(CampaignStatus)).toBe('settled');

    // The owner hears of the outcome, once.
    const notes = await ctx.deps.db('notifications').where({ user_id: owner.id, type: 'campaign_failed' }).whereRaw(`data->>'campaign_id' = ?`, [c.id]);
    expect(notes).toHaveLength(1);
  });

  it('sets the operator view: CampaignId/CampaignStatus search attributes, static summary and current details', async () => {
    const c = await createCampaign({ title: 'Operator view', goal_cents: 250_000, ends_at: at(120_000) });
    expect((await launch(c.id)).status).toBe(200);
    const h = await handle(c.id);
    await waitFor('the workflow to be live', async () => (await lifecycleState(c.id)).phase === 'live' || undefined);
    const desc = await h.describe();
    expect(desc.workflowId).toBe(`campaign:${c.id}`);
    expect(desc.type).toBe('campaignLifecycle');
    expect(desc.typedSearchAttributes.get(CampaignId)).toBe(c.id);
    expect(desc.typedSearchAttributes.get(CampaignStatus)).toBe('live');
    expect(await desc.staticSummary()).toBe(
      campaignSummary({ title: 'Operator view', goalCents: 250_000, currency: 'USD', endsAt: new Date(c.ends_at) }),
    );
    expect(await desc.staticSummary()).toMatch(/^Campaign Operator view: goal \$2,500\.00, ends /);
    const metadata = (await h.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toMatch(/live/);
    expect(metadata.currentDetails).toMatch(/\$0\.00 of \$2,500\.00/);

    // Operators find it by campaign id.
    const client = await ctx.deps.temporal.client();
    const found = await waitFor('the visibility index', async () => {
      const ids: string[] = [];
      for await (const w of client.workflow.list({ query: `CampaignId = '${c.id}'` })) ids.push(w.workflowId);
      return ids.length ? ids : undefined;
    });
    expect(found).toEqual([`campaign:${c.id}`]);

    // Twice is a conflict, and changes nothing.
    const again = await launch(c.id);
    expectProblem(again, 409, 'campaign_not_draft');
    expect((await cancel(c.id)).status).toBe(200);
  });

  it('lets an operator launch, and no one else', async () => {
    const c = await createCampaign({ ends_at: at(120_000) });
    // Another creator's draft is as unknown to them as a missing id.
    expectProblem(await launch(c.id, stranger), 404, 'not_found');
    const res = await launch(c.id, operator);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('live');
    expectProblem(await launch(c.id, stranger), 403, 'forbidden');
    expect((await cancel(c.id, operator)).status).toBe(200);
  });

  it('the workflow activates a campaign itself when the launch died before committing', async () => {
    const c = await createCampaign({ ends_at: at(120_000) });
    // Exactly what launch starts, without the row update it would have committed.
    const client = await ctx.deps.temporal.client();
    await client.workflow.start<CampaignLifecycleWorkflow>(CAMPAIGN_LIFECYCLE_WORKFLOW, {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: `campaign:${c.id}`,
      args: [{ campaignId: c.id, title: c.title, goalCents: c.goal_cents, currency: c.currency, endsAt: c.ends_at }],
    });
    const live = await statusIs(c.id, 'live');
    expect(live.launched_at).toBeInstanceOf(Date);
    expect((await cancel(c.id)).status).toBe(200);
  });

  it('a launch retried after that crash finds the workflow running and succeeds', async () => {
    const c = await createCampaign({ ends_at: at(120_000) });
    const client = await ctx.deps.temporal.client();
    // Started on a queue nobody polls, so the row stays a draft: the state a crash between start and commit leaves.
    const orphan = await client.workflow.start<CampaignLifecycleWorkflow>(CAMPAIGN_LIFECYCLE_WORKFLOW, {
      taskQueue: `nobody-${randomUUID()}`,
      workflowId: `campaign:${c.id}`,
      args: [{ campaignId: c.id, title: c.title, goalCents: c.goal_cents, currency: c.currency, endsAt: c.ends_at }],
    });
    try {
      const res = await launch(c.id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('live');
      expect((await row(c.id)).status).toBe('live');
    } finally {
      await orphan.terminate('test cleanup');
    }
  });
});

describe('decision at the deadline, from the Postgres totals', () => {
  it('all-or-nothing with the goal met succeeds; flexible below its goal succeeds too', async () => {
    const endsAt = at(3_000);
    const funded = await createCampaign({ ends_at: endsAt, goal_cents: 50_000 });
    const flexible = await createCampaign({ ends_at: endsAt, goal_cents: 50_000, funding_model: 'flexible' });
    expect((await launch(funded.id)).status).toBe(200);
    expect((await launch(flexible.id)).status).toBe(200);
    await setPledged(funded.id, 50_000, 5);
    await setPledged(flexible.id, 12_500, 2);

    for (const c of [funded, flexible]) {
      const decided = await statusIs(c.id, 'succeeded', 'settled');
      expect(decided.outcome).toBe('succeeded');
      await statusIs(c.id, 'settled');
      expect(await (await handle(c.id)).result()).toMatchObject({ outcome: 'succeeded' });
    }
    const detail = await ctx.http.get(`/v1/campaigns/${flexible.id}`);
    expect(detail.body).toMatchObject({ status: 'settled', outcome: 'succeeded', percent_funded: 25, seconds_left: 0 });
  });
});

describe('continue-as-new', () => {
  it('a continued run resumes settlement from the carried cursor and counts, then settles', async () => {
    const c = await createCampaign({ ends_at: at(120_000) });
    // The state the previous run left: decided, part-way through settlement.
    await ctx.deps.db('campaigns').where({ id: c.id }).update({ status: 'failed', outcome: 'failed', decided_at: ctx.deps.db.fn.now() });
    const client = await ctx.deps.temporal.client();
    const h = await client.workflow.start<CampaignLifecycleWorkflow>(CAMPAIGN_LIFECYCLE_WORKFLOW, {
      taskQueue: ctx.deps.config.TASK_QUEUE,
      workflowId: `campaign:${c.id}`,
      args: [
        {
          campaignId: c.id,
          title: c.title,
          goalCents: c.goal_cents,
          currency: c.currency,
          endsAt: c.ends_at,
          batchSize: 50,
          phase: 'settling',
          settlement: {
            action: 'void',
            outcome: 'failed',
            // Past every real pledge id: nothing is left after it.
            afterPledgeId: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
            processed: 1_234,
            collected: 0,
            failed: 0,
            voided: 1_200,
            pledgedCents: 9_000,
            backerCount: 34,
          },
        },
      ],
    });
    expect(await h.result()).toEqual({ outcome: 'failed', processed: 1_234, collected: 0, failed: 0, voided: 1_200 });
    expect((await row(c.id)).status).toBe('settled');
    await expect(h.query(lifecycleStateQuery)).resolves.toMatchObject({ phase: 'settled', outcome: 'failed' });
  });
});

describe('deadline extension (Update with a validator)', () => {
  it('a later deadline moves the timer; an earlier or past one is rejected with 422 and changes nothing', async () => {
    const c = await createCampaign({ ends_at: at(3_000) });
    expect((await launch(c.id)).status).toBe(200);
    const oldDeadline = new Date(c.ends_at).getTime();

    const later = at(8_000);
    const moved = await moveDeadline(c.id, later);
    expect(moved.status).toBe(200);
    expect(moved.body.ends_at).toBe(new Date(later).toISOString());
    expect((await row(c.id)).ends_at.toISOString()).toBe(new Date(later).toISOString());

    const earlier = await moveDeadline(c.id, at(5_000));
    expectProblem(earlier, 422, 'invalid_deadline');
    expect(earlier.body.detail).toMatch(/later than the current/);
    const past = await moveDeadline(c.id, at(-1_000));
    expectProblem(past, 422, 'invalid_deadline');
    expect(past.body.detail).toMatch(/future/);
    expectProblem(await moveDeadline(c.id, at(20_000), stranger), 403, 'forbidden');
    expect((await row(c.id)).ends_at.toISOString()).toBe(new Date(later).toISOString());
    expect((await lifecycleState(c.id)).endsAt).toBe(new Date(later).toISOString());

    // Well past the old deadline, the campaign is still live.
    await new Promise((r) => setTimeout(r, Math.max(0, oldDeadline + 1_500 - Date.now())));
    expect((await row(c.id)).status).toBe('live');
    expect((await lifecycleState(c.id)).phase).toBe('live');

    const decided = await statusIs(c.id, 'failed', 'settled');
    expect(decided.decided_at.getTime()).toBeGreaterThanOrEqual(new Date(later).getTime());
    expectProblem(await moveDeadline(c.id, at(60_000)), 409, 'campaign_already_decided');
  });

  it('an operator may extend a scheduled campaign', async () => {
    const c = await createCampaign({ starts_at: at(30_000), ends_at: at(60_000) });
    expect((await launch(c.id)).body.status).toBe('scheduled');
    const later = at(90_000);
    const res = await moveDeadline(c.id, later, operator);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'scheduled', ends_at: new Date(later).toISOString() });
    expect((await cancel(c.id)).status).toBe(200);
  });
});

describe('cancel (Update)', () => {
  it('cancels a live campaign: 200 with outcome cancelled, then settled; a second cancel is 409', async () => {
    const c = await createCampaign({ ends_at: at(120_000) });
    expect((await launch(c.id)).status).toBe(200);
    await setPledged(c.id, 100_000, 4);
    expectProblem(await cancel(c.id, stranger), 403, 'forbidden');

    const res = await cancel(c.id);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('cancelled');
    expect(['cancelled', 'settled']).toContain(res.body.status);
    expect(res.body.decided_at).toEqual(expect.any(String));

    expectProblem(await cancel(c.id), 409, 'campaign_already_decided');
    expectProblem(await moveDeadline(c.id, at(300_000)), 409, 'campaign_already_decided');
    await statusIs(c.id, 'settled');
    // Funded or not, a cancelled campaign never collects.
    expect(await (await handle(c.id)).result()).toMatchObject({ outcome: 'cancelled', collected: 0 });
    expect(await lifecycleState(c.id)).toMatchObject({ phase: 'settled', cancelled: true, outcome: 'cancelled' });
  });

  it('cancels a scheduled campaign before it ever goes live', async () => {
    const c = await createCampaign({ starts_at: at(30_000), ends_at: at(60_000) });
    expect((await launch(c.id)).body.status).toBe('scheduled');
    const res = await cancel(c.id, operator);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('cancelled');
    await statusIs(c.id, 'settled');
  });
});
