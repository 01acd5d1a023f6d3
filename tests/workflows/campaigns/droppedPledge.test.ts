import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import {
  DROPPED_PLEDGE_WORKFLOW,
  type DroppedPledgeInput,
  type DroppedPledgeWorkflow,
  droppedPledgeStateQuery,
  droppedPledgeWorkflowId,
  retryPaymentUpdate,
} from '../../../src/campaigns/contract';
import { Status } from '../../../src/temporal/searchAttributes';
import { eventually } from '../../helpers/wait';
import { type ActivityInput, type ActivityMocks, type ActivityResult, deferred, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * pledge:<id> — one failed pledge's dropped-pledge window — with its activities mocked: retries through the
 * retryPayment update (serialised, refused once the window closes), reminders, the final retry and the drop.
 * A window of 0 ms goes straight to the final retry, so most paths run without waiting for a timer.
 */

type Charge = ActivityResult<'retryPledgeCharge'>;

function pledgeInput(over: Partial<DroppedPledgeInput> = {}): DroppedPledgeInput {
  return {
    pledgeId: randomUUID(),
    campaignId: randomUUID(),
    backerId: randomUUID(),
    amountCents: 2_500,
    currency: 'USD',
    windowMs: 60_000,
    reminderIntervalMs: 30_000,
    ...over,
  };
}

/** retryPledgeCharge answering `answers` in turn. */
function charges(...answers: Charge[]) {
  let n = 0;
  return jest.fn(async (_: ActivityInput<'retryPledgeCharge'>): Promise<Charge> => answers[Math.min(n++, answers.length - 1)]!);
}

function mocks(over: ActivityMocks = {}) {
  const defaults = {
    sendPaymentReminder: jest.fn(async (_: ActivityInput<'sendPaymentReminder'>) => true),
    dropPledge: jest.fn(async (_: ActivityInput<'dropPledge'>) => true),
    retryPledgeCharge: charges({ status: 'payment_failed', failure_code: 'card_declined' }),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

describe('droppedPledge workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['sendPaymentReminder', 'dropPledge'], payments: ['retryPledgeCharge'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const start = (input: DroppedPledgeInput, m: ReturnType<typeof mocks>) =>
    t.start<DroppedPledgeWorkflow>(DROPPED_PLEDGE_WORKFLOW, { workflowId: droppedPledgeWorkflowId(input.pledgeId), args: [input], mocks: m });

  it('a new card collects the pledge at once: no reminder, no drop', async () => {
    const input = pledgeInput();
    const m = mocks({ retryPledgeCharge: charges({ status: 'collected' }) });
    const handle = await start(input, m);

    await expect(handle.executeUpdate(retryPaymentUpdate)).resolves.toEqual({ status: 'collected' });
    await expect(handle.result()).resolves.toEqual({ status: 'collected', attempts: 1 });
    expect(t.callNames(handle.workflowId)).toEqual(['retryPledgeCharge']);
    expect(m.retryPledgeCharge).toHaveBeenCalledWith({ pledgeId: input.pledgeId });
    expect(t.call(handle.workflowId, 'retryPledgeCharge').taskQueue).toBe(t.paymentsTaskQueue);
    expect(await handle.query(droppedPledgeStateQuery)).toMatchObject({ phase: 'collected', attempts: 1, remindersSent: 0, lastFailureCode: null });
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('collected');
  });

  it('a refused retry keeps the window open with its failure code; a later one collects', async () => {
    const input = pledgeInput();
    const m = mocks({ retryPledgeCharge: charges({ status: 'payment_failed', failure_code: 'insufficient_funds' }, { status: 'collected' }) });
    const handle = await start(input, m);

    await expect(handle.executeUpdate(retryPaymentUpdate)).resolves.toEqual({ status: 'payment_failed', failure_code: 'insufficient_funds' });
    const waiting = await handle.query(droppedPledgeStateQuery);
    expect(waiting).toMatchObject({ phase: 'waiting', attempts: 1, remindersSent: 0, lastFailureCode: 'insufficient_funds' });
    expect(Date.parse(waiting.dropsAt) - Date.parse(waiting.nextReminderAt!)).toBeGreaterThanOrEqual(input.windowMs - input.reminderIntervalMs - 1_000);
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('payment_failed');

    await expect(handle.executeUpdate(retryPaymentUpdate)).resolves.toEqual({ status: 'collected' });
    await expect(handle.result()).resolves.toEqual({ status: 'collected', attempts: 2 });
    expect(m.dropPledge).not.toHaveBeenCalled();
  });

  it('two retries at once charge one at a time; the second finds the pledge collected and charges nothing', async () => {
    const input = pledgeInput();
    const gate = deferred();
    const retryPledgeCharge = jest.fn(async (_: ActivityInput<'retryPledgeCharge'>): Promise<Charge> => {
      await gate.promise;
      return { status: 'collected' };
    });
    const handle = await start(input, mocks({ retryPledgeCharge }));

    const first = handle.executeUpdate(retryPaymentUpdate);
    await eventually(() => retryPledgeCharge.mock.calls.length === 1);
    const second = handle.executeUpdate(retryPaymentUpdate);
    // The second is accepted (still waiting) but must not start a charge of its own while the first runs.
    await eventually(async () => (await handle.fetchHistory()).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length === 2);
    expect(retryPledgeCharge).toHaveBeenCalledTimes(1);
    gate.resolve();

    await expect(first).resolves.toEqual({ status: 'collected' });
    await expect(second).resolves.toEqual({ status: 'collected' });
    await expect(handle.result()).resolves.toEqual({ status: 'collected', attempts: 1 });
    expect(retryPledgeCharge).toHaveBeenCalledTimes(1);
  });

  it('when the window ends, a final retry that fails drops the pledge', async () => {
    const input = pledgeInput({ windowMs: 0 });
    const m = mocks();
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'dropped', attempts: 1 });
    expect(t.callNames(handle.workflowId)).toEqual(['retryPledgeCharge', 'dropPledge']);
    expect(m.dropPledge).toHaveBeenCalledWith({ pledgeId: input.pledgeId });
    expect(await handle.query(droppedPledgeStateQuery)).toMatchObject({ phase: 'dropped', attempts: 1, lastFailureCode: 'card_declined', nextReminderAt: null });
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('dropped');
  });

  it('a final retry that succeeds collects the pledge instead of dropping it', async () => {
    const input = pledgeInput({ windowMs: 0 });
    const m = mocks({ retryPledgeCharge: charges({ status: 'collected' }) });
    const handle = await start(input, m);

    await expect(handle.result()).resolves.toEqual({ status: 'collected', attempts: 1 });
    expect(t.callNames(handle.workflowId)).toEqual(['retryPledgeCharge']);
  });

  it('refuses retryPayment while the final retry runs (the window is closing)', async () => {
    const input = pledgeInput({ windowMs: 0 });
    const gate = deferred();
    const retryPledgeCharge = jest.fn(async (_: ActivityInput<'retryPledgeCharge'>): Promise<Charge> => {
      await gate.promise;
      return { status: 'payment_failed', failure_code: 'expired_card' };
    });
    const handle = await start(input, mocks({ retryPledgeCharge }));
    await eventually(() => retryPledgeCharge.mock.calls.length === 1);
    expect((await handle.query(droppedPledgeStateQuery)).phase).toBe('final_retry');

    const err = await handle.executeUpdate(retryPaymentUpdate).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((err as WorkflowUpdateFailedError).cause?.message)).toMatch(/closing \(final_retry\)/);
    gate.resolve();

    await expect(handle.result()).resolves.toEqual({ status: 'dropped', attempts: 1 });
    expect(retryPledgeCharge).toHaveBeenCalledTimes(1);
  });

  it('sends a reminder when the interval passes, then retries one last time at the end of the window', async () => {
    const began = Date.now();
    // Reminders are due at 1 s and 2 s; a timer that fires only after the window's end sends none, so the
    // window leaves room for the server's timer batching (up to ~1 s late) and a loaded machine.
    const input = pledgeInput({ windowMs: 2_500, reminderIntervalMs: 1_000 });
    const m = mocks();
    const handle = await start(input, m);

    const before = await handle.query(droppedPledgeStateQuery);
    expect(before).toMatchObject({ phase: 'waiting', remindersSent: 0 });
    expect(Date.parse(before.dropsAt) - Date.parse(before.nextReminderAt!)).toBe(1_500);

    await expect(handle.result()).resolves.toEqual({ status: 'dropped', attempts: 1 });
    const names = t.callNames(handle.workflowId);
    const reminders = names.filter((n) => n === 'sendPaymentReminder').length;
    expect(reminders).toBeGreaterThanOrEqual(1);
    expect(names).toEqual([...Array(reminders).fill('sendPaymentReminder'), 'retryPledgeCharge', 'dropPledge']);
    expect(m.sendPaymentReminder.mock.calls.map(([i]) => i)).toEqual(Array.from({ length: reminders }, (_, k) => ({ pledgeId: input.pledgeId, n: k + 1 })));
    expect(t.call(handle.workflowId, 'sendPaymentReminder').at - began).toBeGreaterThanOrEqual(1_000);
    expect(t.call(handle.workflowId, 'retryPledgeCharge').at).toBeGreaterThanOrEqual(Date.parse(before.dropsAt));
    expect(await handle.query(droppedPledgeStateQuery)).toMatchObject({ phase: 'dropped', remindersSent: reminders, nextReminderAt: null });
  });
});
