import { randomUUID } from 'node:crypto';
import { DROP_WORKFLOW, type DropRunInput, type DropWorkflow, dropWorkflowId, queueChangedSignal } from '../../../src/drops/contract';
import { Status } from '../../../src/temporal/searchAttributes';
import { CONTINUE_AS_NEW_SUGGESTED_AT } from '../../helpers/testEnv';
import { eventually } from '../../helpers/wait';
import { type ActivityInput, type ActivityMocks, type ActivityResult, inTurn, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * drop:<id> in first-come mode: the sale of src/workflows/drops/fcfsSale.ts, with every activity mocked. The
 * room's counts come from the admission step's answers; the waits between steps are woken by queueChanged
 * nudges (holds, stock, idle) or not at all (the pace), and the sale ends sold out or at closes_at, with
 * shoppers already admitted keeping their unit until their holds end.
 */

type Step = ActivityResult<'admitFromWaitingRoom'>;
type Closed = ActivityResult<'closeWaitingRoom'>;

const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

function fcfsInput(over: Partial<DropRunInput> = {}): DropRunInput {
  return {
    dropId: randomUUID(),
    storeId: randomUUID(),
    variantId: randomUUID(),
    mode: 'fcfs',
    quantity: 3,
    priceCents: 9_900,
    currency: 'USD',
    opensAt: at(-1_000),
    closesAt: null,
    claimWindowSeconds: 60,
    admissionPerSecond: 10,
    rowGraceMs: 5_000,
    ...over,
  };
}

const room = (over: Partial<Step> = {}): Step => ({
  status: 'open',
  quantity: 3,
  sold: 0,
  holding: 0,
  waiting: 0,
  admittedNow: 0,
  msUntilNextTick: 0,
  msUntilNextExpiry: null,
  stockShort: false,
  settled: { purchased: 0, expired: 0 },
  ...over,
});

/** An open drop selling out on its first step, its room closed in one page. */
function mocks(over: ActivityMocks = {}) {
  const defaults = {
    dropPhase: inTurn<ActivityInput<'dropPhase'>, ActivityResult<'dropPhase'>>({ status: 'open', quantity: 3, sold: 0, entries: 0 }),
    openDrop: inTurn<ActivityInput<'openDrop'>, ActivityResult<'openDrop'>>({ status: 'open' }),
    openWaitingRoom: inTurn<ActivityInput<'openWaitingRoom'>, ActivityResult<'openWaitingRoom'>>({ preOpen: 4, shuffled: true }),
    admitFromWaitingRoom: inTurn<ActivityInput<'admitFromWaitingRoom'>, Step>(room({ sold: 3 })),
    closeWaitingRoom: inTurn<ActivityInput<'closeWaitingRoom'>, Closed>({ status: 'sold_out', told: 0, more: false }),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

const PACE = { tickMs: 1_000, batch: 10 };

describe('drop workflow, first come first served (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['dropPhase', 'openDrop', 'openWaitingRoom', 'admitFromWaitingRoom', 'closeWaitingRoom'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: DropRunInput, m: ActivityMocks) => t.start<DropWorkflow>(DROP_WORKFLOW, { workflowId: dropWorkflowId(input.dropId), args: [input], mocks: m });

  it('sells out: opens the room, admits at the pace, closes the room page by page, then waits for no one', async () => {
    const input = fcfsInput();
    const m = mocks({
      closeWaitingRoom: inTurn<ActivityInput<'closeWaitingRoom'>, Closed>({ status: 'sold_out', told: 500, more: true }, { status: 'sold_out', told: 12, more: false }),
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    const id = handle.workflowId;
    expect(t.callNames(id)).toEqual(['dropPhase', 'openWaitingRoom', 'admitFromWaitingRoom', 'closeWaitingRoom', 'closeWaitingRoom', 'admitFromWaitingRoom']);
    expect(t.call(id, 'openWaitingRoom').input).toEqual({ dropId: input.dropId });
    // Steps at admission_per_second 10 (10 per 1 s tick); the idle flag outlives two idle polls.
    expect(t.call(id, 'admitFromWaitingRoom', 0).input).toEqual({ dropId: input.dropId, pace: PACE, idleFlagTtlMs: 60_000 });
    expect(t.call(id, 'closeWaitingRoom', 0).input).toEqual({ dropId: input.dropId, reason: 'sold_out' });
    expect(t.call(id, 'closeWaitingRoom', 1).input).toEqual({ dropId: input.dropId, reason: 'sold_out' });
    // After the end, only settling holds: no idle flag left behind.
    expect(t.call(id, 'admitFromWaitingRoom', 1).input).toEqual({ dropId: input.dropId, pace: PACE, idleFlagTtlMs: 1 });
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('sold_out');
  });

  it('closes at closes_at; shoppers admitted before keep their unit until their holds end (a nudge looks again)', async () => {
    const input = fcfsInput({ closesAt: at(-1) });
    const m = mocks({
      admitFromWaitingRoom: inTurn<ActivityInput<'admitFromWaitingRoom'>, Step>(room({ status: 'closed', holding: 2, msUntilNextExpiry: 60_000 }), room({ status: 'closed', sold: 2 })),
      closeWaitingRoom: inTurn<ActivityInput<'closeWaitingRoom'>, Closed>({ status: 'closed', told: 7, more: false }),
    });
    const handle = await start(input, m);

    await eventually(() => m.admitFromWaitingRoom.mock.calls.length === 1);
    expect(m.closeWaitingRoom).toHaveBeenCalledWith({ dropId: input.dropId, reason: 'closed' });
    // The holders' check-out (or leaving) nudges the room.
    await handle.signal(queueChangedSignal);
    await expect(handle.result()).resolves.toBeUndefined();
    // closes_at had passed: no admission before the closing, only the settling of holds after it.
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'openWaitingRoom', 'closeWaitingRoom', 'admitFromWaitingRoom', 'admitFromWaitingRoom']);
    for (const c of t.calls(handle.workflowId).filter((c) => c.name === 'admitFromWaitingRoom')) expect(c.input).toMatchObject({ idleFlagTtlMs: 1 });
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('closed');
  });

  it('an idle room sleeps until a joiner nudges it', async () => {
    const input = fcfsInput();
    const m = mocks({ admitFromWaitingRoom: inTurn<ActivityInput<'admitFromWaitingRoom'>, Step>(room(), room({ sold: 3 })) });
    const handle = await start(input, m);
    await eventually(() => m.admitFromWaitingRoom.mock.calls.length === 1);

    const nudged = Date.now();
    await handle.signal(queueChangedSignal);
    await expect(handle.result()).resolves.toBeUndefined();
    // Woken by the nudge, not by the 30 s idle poll.
    expect(t.call(handle.workflowId, 'admitFromWaitingRoom', 1).at - nudged).toBeLessThan(5_000);
  });

  it('all units held: a shopper leaving (nudge) lets the next one in', async () => {
    // 0.1 admissions a second: a 10 s tick, so only the nudge can explain a second step within seconds.
    const input = fcfsInput({ admissionPerSecond: 0.1 });
    const m = mocks({
      admitFromWaitingRoom: inTurn<ActivityInput<'admitFromWaitingRoom'>, Step>(room({ holding: 3, waiting: 5, msUntilNextExpiry: 60_000 }), room({ sold: 3 })),
    });
    const handle = await start(input, m);
    await eventually(() => m.admitFromWaitingRoom.mock.calls.length === 1);

    const nudged = Date.now();
    await handle.signal(queueChangedSignal);
    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.call(handle.workflowId, 'admitFromWaitingRoom', 1).at - nudged).toBeLessThan(5_000);
  });

  it('with shoppers waiting and units free, the next step waits for the pace: nudges do not hurry it', async () => {
    const input = fcfsInput();
    const m = mocks({
      admitFromWaitingRoom: inTurn<ActivityInput<'admitFromWaitingRoom'>, Step>(room({ waiting: 8, holding: 1, admittedNow: 1, msUntilNextTick: 400 }), room({ sold: 3 })),
    });
    const handle = await start(input, m);
    await eventually(() => m.admitFromWaitingRoom.mock.calls.length === 1);
    await handle.signal(queueChangedSignal);

    await expect(handle.result()).resolves.toBeUndefined();
    const [one, two] = [t.call(handle.workflowId, 'admitFromWaitingRoom', 0), t.call(handle.workflowId, 'admitFromWaitingRoom', 1)];
    expect(two.at - one.at).toBeGreaterThanOrEqual(400);
  });

  it('a sale that ended outside this run only closes the room', async () => {
    const input = fcfsInput();
    const m = mocks({
      admitFromWaitingRoom: inTurn<ActivityInput<'admitFromWaitingRoom'>, Step>(room({ status: 'closed' })),
      closeWaitingRoom: inTurn<ActivityInput<'closeWaitingRoom'>, Closed>({ status: 'closed', told: 0, more: false }),
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'openWaitingRoom', 'admitFromWaitingRoom', 'closeWaitingRoom', 'admitFromWaitingRoom']);
    expect(m.closeWaitingRoom).toHaveBeenCalledWith({ dropId: input.dropId, reason: 'closed' });
  });

  it('a scheduled drop that did not open (cancelled meanwhile) never opens its room', async () => {
    const input = fcfsInput({ opensAt: at(-1) });
    const m = mocks({
      dropPhase: inTurn<ActivityInput<'dropPhase'>, ActivityResult<'dropPhase'>>({ status: 'scheduled', quantity: 3, sold: 0, entries: 0 }),
      openDrop: inTurn<ActivityInput<'openDrop'>, ActivityResult<'openDrop'>>({ status: 'closed' }),
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'openDrop']);
    expect(m.openDrop).toHaveBeenCalledWith({ dropId: input.dropId });
  });

  it('continues as new during a long sale; the next run re-reads the drop and re-enters the room', async () => {
    const input = fcfsInput();
    const workflowId = dropWorkflowId(input.dropId);
    // Each step, during which 8 shoppers join and nudge, adds 15 or more history events: enough steps for the
    // server to suggest a new run.
    const steps = Math.ceil(CONTINUE_AS_NEW_SUGGESTED_AT / 10);
    let n = 0;
    const admitFromWaitingRoom = jest.fn(async (_: ActivityInput<'admitFromWaitingRoom'>): Promise<Step> => {
      n++;
      if (n >= steps) return room({ sold: 3 });
      // Shoppers join the idle room while the step runs: the sale looks again at once.
      const running = t.client.workflow.getHandle(workflowId);
      await Promise.all(Array.from({ length: 8 }, () => running.signal(queueChangedSignal)));
      return room({ sold: 1 });
    });
    const m = mocks({ admitFromWaitingRoom });
    const handle = await start(input, m);
    const firstRunId = handle.firstExecutionRunId;

    await expect(handle.result()).resolves.toBeUndefined();
    expect((await t.client.workflow.getHandle(workflowId, firstRunId).describe()).status.name).toBe('CONTINUED_AS_NEW');
    const calls = t.calls(workflowId);
    const runs = [...new Set(calls.map((c) => c.runId))];
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(calls.filter((c) => c.runId === runs[1]).map((c) => c.name).slice(0, 3)).toEqual(['dropPhase', 'openWaitingRoom', 'admitFromWaitingRoom']);
    expect(admitFromWaitingRoom).toHaveBeenCalledTimes(steps + 1);
    expect(m.closeWaitingRoom).toHaveBeenCalledTimes(1);
    expect(calls[calls.length - 1]!.runId).not.toBe(firstRunId);
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('sold_out');
  });
});
