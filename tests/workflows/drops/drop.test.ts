import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { DROP_NOT_FOUND, DROP_WORKFLOW, type DropRunInput, type DropWorkflow, dropClaimedSignal, dropWorkflowId } from '../../../src/drops/contract';
import { Status } from '../../../src/temporal/searchAttributes';
import { CONTINUE_AS_NEW_SUGGESTED_AT } from '../../helpers/testEnv';
import { eventually } from '../../helpers/wait';
import { type ActivityInput, type ActivityMocks, type ActivityResult, inTurn, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * drop:<id> in lottery mode (and its start, shared with first-come drops) with every activity mocked: a row
 * that never committed (DropNotFound), the opens_at / closes_at timers, the draw, the claim-window loop woken
 * by window ends and by dropClaimed, the finish, and the continue-as-new of a long claim phase.
 * The first-come sale it runs is in fcfsSale.test.ts.
 */

type Claims = ActivityResult<'settleLotteryClaims'>;
type Phase = ActivityResult<'dropPhase'>;

const at = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();

function lotteryInput(over: Partial<DropRunInput> = {}): DropRunInput {
  return {
    dropId: randomUUID(),
    storeId: randomUUID(),
    variantId: randomUUID(),
    mode: 'lottery',
    quantity: 2,
    priceCents: 19_900,
    currency: 'USD',
    opensAt: at(-60_000),
    closesAt: at(-1),
    claimWindowSeconds: 60,
    admissionPerSecond: 10,
    rowGraceMs: 5_000,
    ...over,
  };
}

const claims = (over: Partial<Claims> = {}): Claims => ({
  status: 'claiming',
  quantity: 2,
  sold: 0,
  entries: 5,
  claimed: 0,
  openWins: 2,
  waitlisted: 3,
  nextExpiresAt: null,
  expiredNow: 0,
  promotedNow: 0,
  ...over,
});

/** A drop open for entries whose registration closed already, with two winners who claim at once. */
function mocks(over: ActivityMocks = {}) {
  const defaults = {
    dropPhase: inTurn<ActivityInput<'dropPhase'>, Phase>({ status: 'open', quantity: 2, sold: 0, entries: 5 }),
    openDrop: inTurn<ActivityInput<'openDrop'>, ActivityResult<'openDrop'>>({ status: 'open' }),
    closeLotteryRegistration: inTurn<ActivityInput<'closeLotteryRegistration'>, ActivityResult<'closeLotteryRegistration'>>({ status: 'drawing', entries: 5 }),
    drawLottery: inTurn<ActivityInput<'drawLottery'>, ActivityResult<'drawLottery'>>({ status: 'claiming', winners: 2, waitlisted: 3 }),
    settleLotteryClaims: inTurn<ActivityInput<'settleLotteryClaims'>, Claims>(claims({ sold: 2, claimed: 2, openWins: 0 })),
    finishLottery: inTurn<ActivityInput<'finishLottery'>, ActivityResult<'finishLottery'>>({ status: 'sold_out', lost: 3 }),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

describe('drop workflow, lottery (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['dropPhase', 'openDrop', 'closeLotteryRegistration', 'drawLottery', 'settleLotteryClaims', 'finishLottery'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: DropRunInput, m: ActivityMocks) => t.start<DropWorkflow>(DROP_WORKFLOW, { workflowId: dropWorkflowId(input.dropId), args: [input], mocks: m });

  it('a drop whose row never committed (DropNotFound) ends quietly, doing nothing', async () => {
    const input = lotteryInput();
    const m = mocks({
      dropPhase: async () => {
        throw ApplicationFailure.nonRetryable('drop still missing: its creation rolled back', DROP_NOT_FOUND);
      },
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase']);
    const described = await handle.describe();
    expect(described.status.name).toBe('COMPLETED');
    // It asked with its own start time and the grace it was given.
    expect(t.call(handle.workflowId, 'dropPhase').input).toEqual({ dropId: input.dropId, startedAt: described.startTime.toISOString(), graceMs: 5_000 });
  });

  it('any other failure reading the drop fails the workflow (never taken for a missing drop)', async () => {
    const input = lotteryInput();
    const handle = await start(
      input,
      mocks({
        dropPhase: async () => {
          throw ApplicationFailure.nonRetryable('permission denied for table drops', 'DatabaseError');
        },
      }),
    );
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase']);
  });

  it('runs the whole lottery: registration closed, draw, claims until sold out, then the finish', async () => {
    const input = lotteryInput();
    const m = mocks();
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'closeLotteryRegistration', 'drawLottery', 'settleLotteryClaims', 'finishLottery']);
    for (const name of ['closeLotteryRegistration', 'drawLottery', 'settleLotteryClaims', 'finishLottery'] as const) {
      expect(t.call(handle.workflowId, name).input).toEqual({ dropId: input.dropId });
    }
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('sold_out');
  });

  it('a scheduled drop opens at opens_at and closes registration at closes_at', async () => {
    const input = lotteryInput({ opensAt: at(600), closesAt: at(700) });
    const m = mocks({ dropPhase: async () => ({ status: 'scheduled' as const, quantity: 2, sold: 0, entries: 0 }) });
    const handle = await start(input, m);

    await eventually(async () => (await handle.describe()).typedSearchAttributes.get(Status) === 'scheduled');
    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'openDrop', 'closeLotteryRegistration', 'drawLottery', 'settleLotteryClaims', 'finishLottery']);
    expect(t.call(handle.workflowId, 'openDrop').at).toBeGreaterThanOrEqual(Date.parse(input.opensAt));
    expect(t.call(handle.workflowId, 'closeLotteryRegistration').at).toBeGreaterThanOrEqual(Date.parse(input.closesAt!));
  });

  it('a registration that closes without entries ends the drop there (no draw)', async () => {
    const input = lotteryInput();
    const m = mocks({ closeLotteryRegistration: async () => ({ status: 'closed', entries: 0 }) });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'closeLotteryRegistration']);
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('closed');
  });

  it('a claim (dropClaimed) wakes the claim loop at once; with no open win and no waitlist left it finishes', async () => {
    const input = lotteryInput();
    const m = mocks({
      settleLotteryClaims: inTurn<ActivityInput<'settleLotteryClaims'>, Claims>(
        claims({ openWins: 2, waitlisted: 1, nextExpiresAt: at(60_000) }),
        claims({ sold: 1, claimed: 1, openWins: 0, waitlisted: 0 }),
      ),
      finishLottery: async () => ({ status: 'closed', lost: 4 }),
    });
    const handle = await start(input, m);
    await eventually(() => t.calls(handle.workflowId).some((c) => c.name === 'settleLotteryClaims'));

    const signalled = Date.now();
    await handle.signal(dropClaimedSignal);
    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'closeLotteryRegistration', 'drawLottery', 'settleLotteryClaims', 'settleLotteryClaims', 'finishLottery']);
    // Woken by the claim, not by the window's end a minute away.
    expect(t.call(handle.workflowId, 'settleLotteryClaims', 1).at - signalled).toBeLessThan(5_000);
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('closed');
  });

  it('the end of the earliest claim window settles again; a phase ended elsewhere is left without a finish', async () => {
    const input = lotteryInput();
    const windowEnd = at(300);
    const m = mocks({
      settleLotteryClaims: inTurn<ActivityInput<'settleLotteryClaims'>, Claims>(claims({ nextExpiresAt: windowEnd }), claims({ status: 'closed' })),
    });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toBeUndefined();
    expect(t.callNames(handle.workflowId)).toEqual(['dropPhase', 'closeLotteryRegistration', 'drawLottery', 'settleLotteryClaims', 'settleLotteryClaims']);
    expect(t.call(handle.workflowId, 'settleLotteryClaims', 1).at).toBeGreaterThanOrEqual(Date.parse(windowEnd));
    expect(m.finishLottery).not.toHaveBeenCalled();
  });

  it('continues as new during a long claim phase and picks up from the drop row', async () => {
    const input = lotteryInput();
    const workflowId = dropWorkflowId(input.dropId);
    // Each round (a settle during which 8 winners claim) adds 15 or more history events: enough rounds for the
    // server to suggest a new run.
    const rounds = Math.ceil(CONTINUE_AS_NEW_SUGGESTED_AT / 10);
    let settled = 0;
    const settleLotteryClaims = jest.fn(async (_: ActivityInput<'settleLotteryClaims'>): Promise<Claims> => {
      settled++;
      if (settled >= rounds) return claims({ sold: 2, claimed: 2, openWins: 0 });
      // Winners claim while this step runs: the loop goes round again at once.
      const running = t.client.workflow.getHandle(workflowId);
      await Promise.all(Array.from({ length: 8 }, () => running.signal(dropClaimedSignal)));
      return claims({ openWins: 1, claimed: 1, sold: 1 });
    });
    const m = mocks({
      dropPhase: inTurn<ActivityInput<'dropPhase'>, Phase>({ status: 'open', quantity: 2, sold: 0, entries: 5 }, { status: 'claiming', quantity: 2, sold: 1, entries: 5 }),
      settleLotteryClaims,
    });
    const handle = await start(input, m);
    const firstRunId = handle.firstExecutionRunId;

    await expect(handle.result()).resolves.toBeUndefined();
    const first = t.client.workflow.getHandle(workflowId, firstRunId);
    expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
    const events = (await first.fetchHistory()).events!;
    const continued = events[events.length - 1]!.workflowExecutionContinuedAsNewEventAttributes!;
    expect(defaultPayloadConverter.fromPayload(continued.input!.payloads![0]!)).toEqual(input);

    const calls = t.calls(workflowId);
    const runs = [...new Set(calls.map((c) => c.runId))];
    expect(runs.length).toBeGreaterThanOrEqual(2);
    // The next run re-read the drop (now claiming) and went straight back to the claims: no second close or draw.
    const second = calls.filter((c) => c.runId === runs[1]).map((c) => c.name);
    expect(second.slice(0, 2)).toEqual(['dropPhase', 'settleLotteryClaims']);
    expect(m.closeLotteryRegistration).toHaveBeenCalledTimes(1);
    expect(m.drawLottery).toHaveBeenCalledTimes(1);
    expect(settleLotteryClaims).toHaveBeenCalledTimes(rounds);
    expect(m.finishLottery).toHaveBeenCalledTimes(1);
    expect(calls[calls.length - 1]).toMatchObject({ name: 'finishLottery' });
    expect(calls[calls.length - 1]!.runId).not.toBe(firstRunId);
  });
});
