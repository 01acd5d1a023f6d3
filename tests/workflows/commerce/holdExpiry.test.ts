import {
  HOLD_EXPIRY_WORKFLOW,
  type HoldExpiryInput,
  type HoldExpiryWorkflow,
  holdExpiryStateQuery,
  holdExpiryWakeSignal,
  holdExpiryWorkflowId,
} from '../../../src/commerce/contract';
import { type ActivityMock, type ActivityResult, historyEventTypes, inTurn, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';
import { eventually } from '../../helpers/wait';

/**
 * A hold-expiry sweeper with releaseDueHolds mocked: when it reads its shard again (the earliest hold it was
 * told of, never later than maxSleepMs after a read, sooner when signalled), what it reports, and that it
 * continues as new with its totals and pending wakes. Real timers on the run's dev server (which may fire
 * them up to ~1 s late), so only lower bounds are tight.
 */

type Sweep = ActivityResult<'releaseDueHolds'>;
let shardSeq = 0;

describe('holdExpiry workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['releaseDueHolds'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: Omit<HoldExpiryInput, 'shard' | 'shards'>, releaseDueHolds: ActivityMock<'releaseDueHolds'>) => {
    const shard = shardSeq++;
    return t.start<HoldExpiryWorkflow>(HOLD_EXPIRY_WORKFLOW, {
      workflowId: holdExpiryWorkflowId(t.taskQueue, shard),
      args: [{ shard, shards: 64, ...input }],
      mocks: { releaseDueHolds },
    });
  };
  const sweepTimes = (workflowId: string) => t.calls(workflowId).map((c) => c.at);

  it('reads its shard at once, then again when the earliest hold it was told of ends, and releases by shard', async () => {
    const sweep = inTurn<unknown, Sweep>({ released: 0, nextExpiresAt: new Date(Date.now() + 1_500).toISOString() }, { released: 3, nextExpiresAt: null });
    const began = Date.now();
    const handle = await start({ maxSleepMs: 60_000 }, sweep);
    await eventually(async () => t.calls(handle.workflowId).length >= 2, 10_000);
    expect(sweepTimes(handle.workflowId)[1]! - began).toBeGreaterThanOrEqual(1_500 - 50);
    expect(t.call(handle.workflowId, 'releaseDueHolds').input).toEqual({ shard: expect.any(Number), shards: 64 });
    await eventually(async () => (await handle.query(holdExpiryStateQuery)).released === 3, 5_000);
    const state = await handle.query(holdExpiryStateQuery);
    // Nothing left to wait for: the next read is the sleep bound after the last one.
    expect(state).toMatchObject({ maxSleepMs: 60_000, sweeps: 2, released: 3 });
    expect(Date.parse(state.nextWakeAt!)).toBeGreaterThan(Date.now() + 50_000);
    await handle.terminate();
  });

  it('never sleeps longer than maxSleepMs after a read, even with nothing to release', async () => {
    const sweep = inTurn<unknown, Sweep>({ released: 0, nextExpiresAt: null });
    const handle = await start({ maxSleepMs: 600 }, sweep);
    await eventually(async () => t.calls(handle.workflowId).length >= 3, 10_000);
    const times = sweepTimes(handle.workflowId);
    for (let i = 1; i < 3; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(600 - 50);
    await handle.terminate();
  });

  it('a wake signal brings the next read forward (a hold shorter than the bound), and a lower bound sticks', async () => {
    const sweep = inTurn<unknown, Sweep>({ released: 0, nextExpiresAt: null });
    const handle = await start({ maxSleepMs: 600_000 }, sweep);
    await eventually(async () => t.calls(handle.workflowId).length >= 1, 5_000);
    const asked = Date.now();
    await handle.signal(holdExpiryWakeSignal, { by: new Date(asked + 800).toISOString() });
    await eventually(async () => t.calls(handle.workflowId).length >= 2, 10_000);
    expect(sweepTimes(handle.workflowId)[1]! - asked).toBeGreaterThanOrEqual(800 - 50);

    await handle.signal(holdExpiryWakeSignal, { maxSleepMs: 500 });
    await eventually(async () => t.calls(handle.workflowId).length >= 4, 10_000);
    expect((await handle.query(holdExpiryStateQuery)).maxSleepMs).toBe(500);
    // A higher bound is ignored.
    await handle.signal(holdExpiryWakeSignal, { maxSleepMs: 900_000 });
    expect((await handle.query(holdExpiryStateQuery)).maxSleepMs).toBe(500);
    await handle.terminate();
  });

  it('continues as new when the server suggests it, keeping its bound, its total and a wake not yet reached', async () => {
    let n = 0;
    const sweep = jest.fn(async (): Promise<Sweep> => ({ released: ++n <= 20 ? 1 : 0, nextExpiresAt: null }));
    const handle = await start({ maxSleepMs: 20_000 }, sweep);
    await handle.signal(holdExpiryWakeSignal, { maxSleepMs: 40 });
    // A wake far ahead: it must survive every continue-as-new.
    const far = new Date(Date.now() + 3_600_000).toISOString();
    await handle.signal(holdExpiryWakeSignal, { by: far });
    await eventually(async () => new Set(t.calls(handle.workflowId).map((c) => c.runId)).size >= 3, 30_000);
    const runs = [...new Set(t.calls(handle.workflowId).map((c) => c.runId))];
    expect(await historyEventTypes(t.client, handle.workflowId, runs[0])).toContain('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    const latest = t.client.workflow.getHandle(handle.workflowId);
    const described = await latest.describe();
    expect(described.status.name).toBe('RUNNING');
    await eventually(async () => (await latest.query(holdExpiryStateQuery)).released === 20, 10_000);
    expect((await latest.query(holdExpiryStateQuery)).maxSleepMs).toBe(40);
    await latest.terminate();
    // The wake an hour ahead was carried: the latest run's input lists it.
    const history = await t.client.workflow.getHandle(handle.workflowId, described.runId).fetchHistory();
    const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!;
    expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toMatchObject({ maxSleepMs: 40, wakes: [far] });
  });
});
