import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import {
  CAMPAIGN_ALREADY_DECIDED,
  CAMPAIGN_LIFECYCLE_WORKFLOW,
  type CampaignLifecycleInput,
  type CampaignLifecycleWorkflow,
  INVALID_DEADLINE,
  cancelCampaignUpdate,
  campaignWorkflowId,
  extendDeadlineUpdate,
  lifecycleStateQuery,
} from '../../../src/campaigns/contract';
import { CampaignStatus } from '../../../src/temporal/searchAttributes';
import { CONTINUE_AS_NEW_SUGGESTED_AT } from '../../helpers/testEnv';
import { eventually } from '../../helpers/wait';
import {
  type ActivityInput,
  type ActivityMocks,
  type ActivityResult,
  deferred,
  historyEventTypes,
  startWorkflowEnv,
  type WorkflowTestEnv,
} from '../../helpers/workflowEnv';

/**
 * campaign:<id> with its activities mocked, on the run's dev server with real (millisecond) timers: the start
 * and deadline timers, the extendDeadline / cancelCampaign updates and their validators, the decision, the
 * settlement batches on the payments queue and the continue-as-new of a long settlement.
 */

type Snapshot = ActivityResult<'activateCampaign'>;
type Batch = ActivityResult<'settlePledgeBatch'>;

const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

function campaignInput(over: Partial<CampaignLifecycleInput> = {}): CampaignLifecycleInput {
  return { campaignId: randomUUID(), title: 'Tiny synth', goalCents: 10_000, currency: 'USD', endsAt: at(150), batchSize: 2, ...over };
}

const live: Snapshot = { status: 'live', pledgedCents: 12_000, backerCount: 3 };

/** The decision the real activity would take for this campaign: funded unless cancelled. */
async function decide({ cancelled }: ActivityInput<'decideCampaign'>): Promise<ActivityResult<'decideCampaign'>> {
  return cancelled
    ? { ...live, status: 'cancelled', outcome: 'cancelled', settlement: 'void' }
    : { ...live, status: 'succeeded', outcome: 'succeeded', settlement: 'collect' };
}

/** settlePledgeBatch answering `batches` in turn (each batch's cursor is the last pledge id it covered). */
function batchesOf(batches: Array<Partial<Batch>>) {
  let n = 0;
  return jest.fn(async (_input: ActivityInput<'settlePledgeBatch'>): Promise<Batch> => {
    const b = batches[n++];
    if (!b) throw ApplicationFailure.nonRetryable(`unexpected batch ${n}`);
    return { lastPledgeId: null, done: false, processed: 0, collected: 0, failed: 0, voided: 0, ...b };
  });
}

/** Every activity of the workflow, answering as for a funded campaign; `over` replaces some. */
function mocks(over: ActivityMocks = {}) {
  const defaults = {
    activateCampaign: jest.fn(async (_: ActivityInput<'activateCampaign'>): Promise<Snapshot> => live),
    markCampaignLive: jest.fn(async (_: ActivityInput<'markCampaignLive'>): Promise<Snapshot> => live),
    setCampaignDeadline: jest.fn(async (_: ActivityInput<'setCampaignDeadline'>): Promise<Snapshot> => ({ ...live, pledgedCents: 13_000, backerCount: 4 })),
    decideCampaign: jest.fn(decide),
    settlePledgeBatch: batchesOf([
      { lastPledgeId: 'p2', processed: 2, collected: 2 },
      { lastPledgeId: 'p3', processed: 1, collected: 0, failed: 1, done: true },
    ]),
    markCampaignSettled: jest.fn(async (_: ActivityInput<'markCampaignSettled'>): Promise<Snapshot> => ({ ...live, status: 'settled' })),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

describe('campaignLifecycle workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({
      main: ['activateCampaign', 'markCampaignLive', 'setCampaignDeadline', 'decideCampaign', 'markCampaignSettled'],
      payments: ['settlePledgeBatch'],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: CampaignLifecycleInput, m: ReturnType<typeof mocks>) =>
    t.start<CampaignLifecycleWorkflow>(CAMPAIGN_LIFECYCLE_WORKFLOW, { workflowId: campaignWorkflowId(input.campaignId), args: [input], mocks: m });

  it('goes live at once, decides at the deadline and settles batch by batch on the payments queue', async () => {
    const input = campaignInput({ endsAt: at(300) });
    const m = mocks();
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ outcome: 'succeeded', processed: 3, collected: 2, failed: 1, voided: 0 });
    expect(t.callNames(handle.workflowId)).toEqual(['activateCampaign', 'decideCampaign', 'settlePledgeBatch', 'settlePledgeBatch', 'markCampaignSettled']);
    // Not decided before the deadline.
    expect(m.decideCampaign).toHaveBeenCalledWith({ campaignId: input.campaignId, cancelled: false });
    expect(t.call(handle.workflowId, 'decideCampaign').at).toBeGreaterThanOrEqual(Date.parse(input.endsAt));
    // The keyset cursor moves from batch to batch; only the payments worker ran them.
    expect(m.settlePledgeBatch.mock.calls.map(([i]) => i)).toEqual([
      { campaignId: input.campaignId, action: 'collect', afterPledgeId: null, batchSize: 2 },
      { campaignId: input.campaignId, action: 'collect', afterPledgeId: 'p2', batchSize: 2 },
    ]);
    const settleQueues = t.calls(handle.workflowId).filter((c) => c.name === 'settlePledgeBatch').map((c) => c.taskQueue);
    expect(settleQueues).toEqual([t.paymentsTaskQueue, t.paymentsTaskQueue]);
    expect(t.calls(handle.workflowId).filter((c) => c.name !== 'settlePledgeBatch').every((c) => c.taskQueue === t.taskQueue)).toBe(true);

    const final = await handle.query(lifecycleStateQuery);
    expect(final).toMatchObject({ phase: 'settled', outcome: 'succeeded', processed: 3, collected: 2, failed: 1, voided: 0 });
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(CampaignStatus)).toBe('settled');
  });

  it('waits for a future start, goes live, then decides at the deadline', async () => {
    // The start leaves time for a loaded machine to see the scheduled phase before it passes.
    const input = campaignInput({ startsAt: at(600), endsAt: at(750) });
    const m = mocks({ activateCampaign: jest.fn(async (): Promise<Snapshot> => ({ ...live, status: 'scheduled' })) });
    const handle = await start(input, m);

    await eventually(async () => (await handle.query(lifecycleStateQuery)).phase === 'scheduled');
    expect(m.markCampaignLive).not.toHaveBeenCalled();
    expect((await handle.describe()).typedSearchAttributes.get(CampaignStatus)).toBe('scheduled');

    await expect(handle.result()).resolves.toMatchObject({ outcome: 'succeeded' });
    expect(t.callNames(handle.workflowId).slice(0, 3)).toEqual(['activateCampaign', 'markCampaignLive', 'decideCampaign']);
    expect(t.call(handle.workflowId, 'markCampaignLive').at).toBeGreaterThanOrEqual(Date.parse(input.startsAt!));
    expect(t.call(handle.workflowId, 'decideCampaign').at).toBeGreaterThanOrEqual(Date.parse(input.endsAt));
  });

  it('ends at once without a decision when the campaign was already decided without it', async () => {
    const input = campaignInput({ endsAt: at(60_000) });
    const m = mocks({ activateCampaign: jest.fn(async (): Promise<Snapshot> => ({ ...live, status: 'cancelled' })) });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ outcome: null, processed: 0, collected: 0, failed: 0, voided: 0 });
    expect(t.callNames(handle.workflowId)).toEqual(['activateCampaign']);
    expect((await handle.query(lifecycleStateQuery)).phase).toBe('settled');
  });

  it('a cancel that arrives while activation finds the campaign already decided is refused, and the run still ends', async () => {
    const input = campaignInput({ endsAt: at(60_000) });
    const activating = deferred();
    const m = mocks({
      activateCampaign: jest.fn(async (): Promise<Snapshot> => {
        await activating.promise;
        return { ...live, status: 'cancelled' };
      }),
    });
    const handle = await start(input, m);
    await eventually(async () => m.activateCampaign.mock.calls.length === 1);

    const cancel = handle.executeUpdate(cancelCampaignUpdate, { args: [{ reason: 'changed my mind' }] }).catch((e: unknown) => e);
    await eventually(async () => (await handle.query(lifecycleStateQuery)).cancelled);
    activating.resolve();

    const err = await cancel;
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: CAMPAIGN_ALREADY_DECIDED });
    await expect(handle.result()).resolves.toEqual({ outcome: null, processed: 0, collected: 0, failed: 0, voided: 0 });
    expect(m.decideCampaign).not.toHaveBeenCalled();
  });

  it('extendDeadline moves the timer: the decision waits for the new deadline, which is persisted', async () => {
    // The first deadline leaves a loaded machine time to extend it before it fires.
    const input = campaignInput({ endsAt: at(600) });
    const m = mocks();
    const handle = await start(input, m);
    await eventually(async () => (await handle.query(lifecycleStateQuery)).phase === 'live');

    const later = at(800);
    await expect(handle.executeUpdate(extendDeadlineUpdate, { args: [{ endsAt: later }] })).resolves.toEqual({ ends_at: later });
    expect(m.setCampaignDeadline).toHaveBeenCalledWith({ campaignId: input.campaignId, endsAt: later });
    // The totals the persisting step read are shown.
    expect(await handle.query(lifecycleStateQuery)).toMatchObject({ phase: 'live', endsAt: later, pledgedCents: 13_000, backerCount: 4 });

    await handle.result();
    // Not at the old deadline: the moved one.
    expect(t.call(handle.workflowId, 'decideCampaign').at).toBeGreaterThanOrEqual(Date.parse(later));
    expect(t.callNames(handle.workflowId).slice(0, 3)).toEqual(['activateCampaign', 'setCampaignDeadline', 'decideCampaign']);
  });

  it('the extendDeadline validator refuses an invalid, earlier or past deadline, leaving no trace in history', async () => {
    const input = campaignInput({ endsAt: at(60_000) });
    const m = mocks();
    const handle = await start(input, m);
    await eventually(async () => (await handle.query(lifecycleStateQuery)).phase === 'live');

    for (const endsAt of ['not a date', at(200), at(-1_000)]) {
      const err = await handle.executeUpdate(extendDeadlineUpdate, { args: [{ endsAt }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: INVALID_DEADLINE, nonRetryable: true });
    }
    expect(m.setCampaignDeadline).not.toHaveBeenCalled();
    expect((await handle.query(lifecycleStateQuery)).endsAt).toBe(input.endsAt);

    // Only the cancel below is accepted (it ends the test without waiting for the deadline).
    await handle.executeUpdate(cancelCampaignUpdate, { args: [{}] });
    await handle.result();
    const types = await historyEventTypes(t.client, handle.workflowId);
    expect(types.filter((e) => e.startsWith('WORKFLOW_EXECUTION_UPDATE'))).toEqual(['WORKFLOW_EXECUTION_UPDATE_ACCEPTED', 'WORKFLOW_EXECUTION_UPDATE_COMPLETED']);
  });

  it('cancelCampaign decides at once (cancelled), answers with the outcome and voids every pledge', async () => {
    const input = campaignInput({ endsAt: at(60_000) });
    const m = mocks({ settlePledgeBatch: batchesOf([{ lastPledgeId: 'p9', processed: 4, voided: 4, done: true }]) });
    const handle = await start(input, m);
    const live = await eventually(async () => {
      const s = await handle.query(lifecycleStateQuery);
      return s.phase === 'live' && s;
    });
    expect(live).toEqual({ phase: 'live', endsAt: input.endsAt, cancelled: false, pledgedCents: 12_000, backerCount: 3, processed: 0, collected: 0, failed: 0, voided: 0 });
    expect((await handle.describe()).typedSearchAttributes.get(CampaignStatus)).toBe('live');

    const began = Date.now();
    await expect(handle.executeUpdate(cancelCampaignUpdate, { args: [{ reason: 'supplier went bust' }] })).resolves.toEqual({ status: 'cancelled' });
    await expect(handle.result()).resolves.toEqual({ outcome: 'cancelled', processed: 4, collected: 0, failed: 0, voided: 4 });
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(m.decideCampaign).toHaveBeenCalledWith({ campaignId: input.campaignId, cancelled: true });
    expect(m.settlePledgeBatch).toHaveBeenCalledWith({ campaignId: input.campaignId, action: 'void', afterPledgeId: null, batchSize: 2 });
    expect(t.callNames(handle.workflowId)).toEqual(['activateCampaign', 'decideCampaign', 'settlePledgeBatch', 'markCampaignSettled']);
  });

  it('cancelCampaign while scheduled never takes the campaign live', async () => {
    const input = campaignInput({ startsAt: at(60_000), endsAt: at(120_000) });
    const m = mocks({
      activateCampaign: jest.fn(async (): Promise<Snapshot> => ({ ...live, status: 'scheduled' })),
      settlePledgeBatch: batchesOf([{ done: true }]),
    });
    const handle = await start(input, m);
    await eventually(async () => (await handle.query(lifecycleStateQuery)).phase === 'scheduled');

    await expect(handle.executeUpdate(cancelCampaignUpdate, { args: [{}] })).resolves.toEqual({ status: 'cancelled' });
    await expect(handle.result()).resolves.toMatchObject({ outcome: 'cancelled', processed: 0 });
    expect(m.markCampaignLive).not.toHaveBeenCalled();
    expect(t.callNames(handle.workflowId)).toEqual(['activateCampaign', 'decideCampaign', 'settlePledgeBatch', 'markCampaignSettled']);
  });

  it('once the decision has begun, both updates are refused as CampaignAlreadyDecided (deciding and settling)', async () => {
    const input = campaignInput({ endsAt: at(0) });
    const deciding = deferred();
    const settling = deferred();
    const m = mocks({
      decideCampaign: jest.fn(async (i: ActivityInput<'decideCampaign'>) => {
        await deciding.promise;
        return decide(i);
      }),
      settlePledgeBatch: jest.fn(async (): Promise<Batch> => {
        await settling.promise;
        return { lastPledgeId: null, done: true, processed: 0, collected: 0, failed: 0, voided: 0 };
      }),
    });
    const handle = await start(input, m);

    const refused = async () => {
      for (const attempt of [
        handle.executeUpdate(extendDeadlineUpdate, { args: [{ endsAt: at(60_000) }] }),
        handle.executeUpdate(cancelCampaignUpdate, { args: [{ reason: 'too late' }] }),
      ]) {
        const err = await attempt.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: CAMPAIGN_ALREADY_DECIDED });
      }
    };

    await eventually(() => m.decideCampaign.mock.calls.length === 1);
    expect((await handle.query(lifecycleStateQuery)).phase).toBe('deciding');
    await refused();
    deciding.resolve();

    await eventually(() => m.settlePledgeBatch.mock.calls.length === 1);
    expect((await handle.query(lifecycleStateQuery)).phase).toBe('settling');
    await refused();
    settling.resolve();

    await expect(handle.result()).resolves.toMatchObject({ outcome: 'succeeded' });
    expect(m.setCampaignDeadline).not.toHaveBeenCalled();
    expect(m.decideCampaign).toHaveBeenCalledWith({ campaignId: input.campaignId, cancelled: false });
  });

  it('continues as new during a long settlement, carrying the cursor and the counts, and settles once', async () => {
    const input = campaignInput({ endsAt: at(0) });
    // More batches (about 6 history events each) than one run may hold before the server suggests continuing as new.
    const count = Math.ceil(CONTINUE_AS_NEW_SUGGESTED_AT / 5);
    const m = mocks({
      settlePledgeBatch: batchesOf(
        Array.from({ length: count }, (_, n) => ({ lastPledgeId: `p${String(n).padStart(3, '0')}`, processed: 2, collected: 1, failed: 1, done: n === count - 1 })),
      ),
    });
    const handle = await start(input, m);
    const firstRunId = handle.firstExecutionRunId;

    await expect(handle.result()).resolves.toEqual({ outcome: 'succeeded', processed: 2 * count, collected: count, failed: count, voided: 0 });

    // The first run ended by continuing as new, with the settlement's progress as the next run's input.
    const first = t.client.workflow.getHandle(campaignWorkflowId(input.campaignId), firstRunId);
    expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
    const events = (await first.fetchHistory()).events!;
    const continued = events[events.length - 1]!.workflowExecutionContinuedAsNewEventAttributes!;
    expect(continued).toBeTruthy();
    const next = defaultPayloadConverter.fromPayload<CampaignLifecycleInput>(continued.input!.payloads![0]!);
    expect(next).toMatchObject({ campaignId: input.campaignId, phase: 'settling', batchSize: 2, settlement: { action: 'collect', outcome: 'succeeded' } });
    expect(next.settlement!.afterPledgeId).toMatch(/^p\d{3}$/);
    expect(next.settlement!.processed).toBe(2 * (Number(next.settlement!.afterPledgeId!.slice(1)) + 1));

    // Later runs neither re-activate nor re-decide; the cursor runs on unbroken across runs.
    const calls = t.calls(handle.workflowId);
    expect(new Set(calls.map((c) => c.runId)).size).toBeGreaterThanOrEqual(2);
    expect(calls.filter((c) => c.name === 'activateCampaign' || c.name === 'decideCampaign').every((c) => c.runId === firstRunId)).toBe(true);
    expect(m.activateCampaign).toHaveBeenCalledTimes(1);
    expect(m.decideCampaign).toHaveBeenCalledTimes(1);
    expect(m.settlePledgeBatch.mock.calls.map(([i]) => i.afterPledgeId)).toEqual([null, ...Array.from({ length: count - 1 }, (_, n) => `p${String(n).padStart(3, '0')}`)]);
    expect(calls.filter((c) => c.name === 'markCampaignSettled')).toHaveLength(1);
    expect(calls[calls.length - 1]!.runId).not.toBe(firstRunId);
    // The continued run keeps the campaign's search attribute and ends it settled.
    expect((await handle.describe()).typedSearchAttributes.get(CampaignStatus)).toBe('settled');
  });
});
