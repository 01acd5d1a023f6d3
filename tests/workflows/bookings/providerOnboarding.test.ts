import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  approveProviderUpdate,
  payoutDetailsReadySignal,
  PROVIDER_NOT_FOUND,
  PROVIDER_NOT_PENDING,
  PROVIDER_ONBOARDING_WORKFLOW,
  providerOnboardingStateQuery,
  providerWorkflowId,
  rejectProviderUpdate,
  type ProviderOnboardingInput,
  type ProviderOnboardingWorkflow,
  type ProviderStatus,
} from '../../../src/bookings/contract';
import { ProviderId, Status } from '../../../src/temporal/searchAttributes';
import { eventually } from '../../helpers/wait';
import { type ActivityInput, type ActivityMocks, type ActivityResult, deferred, pause, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * provider:<id> — a provider's onboarding — with every activity mocked: the operator's decision (approve / reject
 * Updates, whose validators refuse once it is no longer pending) and the payout details (signal) in either order,
 * the one reminder naming what is missing, the expiry of an undecided onboarding, a row that never committed,
 * the Status search attribute and current details as it moves, and retried steps given the same inputs.
 */

type Position = ActivityResult<'providerOnboardingPosition'>;
const pos = (status: ProviderStatus, payoutReady = false): Position => ({ status, payoutReady });

function onboardingInput(over: Partial<ProviderOnboardingInput> = {}): ProviderOnboardingInput {
  return { providerId: randomUUID(), userId: randomUUID(), displayName: 'Ada Plumbing', reminderMs: 60_000, expiryMs: 120_000, rowGraceMs: 5_000, ...over };
}

/**
 * Activities answering as the row would: each decision or payout report moves `row` (a conditional change, so a
 * decision on a row no longer pending leaves it as it is) and answers where it now is.
 */
function mocks(over: ActivityMocks = {}, row = pos('pending')) {
  const decide = (to: ProviderStatus) => {
    if (row.status === 'pending') row = { ...row, status: to };
    return { ...row };
  };
  const defaults = {
    providerOnboardingPosition: jest.fn(async (_: ActivityInput<'providerOnboardingPosition'>): Promise<Position> => ({ ...row })),
    approveProvider: jest.fn(async (_: ActivityInput<'approveProvider'>) => decide('active')),
    rejectProvider: jest.fn(async (_: ActivityInput<'rejectProvider'>) => decide('rejected')),
    expireProvider: jest.fn(async (_: ActivityInput<'expireProvider'>) => decide('expired')),
    remindProvider: jest.fn(async (_: ActivityInput<'remindProvider'>) => ({ ...row, reminded: true })),
    recordPayoutReady: jest.fn(async (_: ActivityInput<'recordPayoutReady'>) => {
      row = { ...row, payoutReady: true };
      return { ...row };
    }),
  };
  return Object.assign(defaults, over) as typeof defaults;
}

type Handle = WorkflowHandle<ProviderOnboardingWorkflow>;

const statusOf = async (h: Handle) => (await h.describe()).typedSearchAttributes.get(Status);
const detailsOf = async (h: Handle) => ((await h.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';

/** Holds mock `fn` at its start until `release()`: `started` resolves once it was called (a step in flight). */
function gate<A extends unknown[], R>(fn: jest.Mock<Promise<R>, A>) {
  const started = deferred();
  const open = deferred();
  const run = fn.getMockImplementation()!;
  fn.mockImplementation(async (...args: A) => {
    started.resolve();
    await open.promise;
    return run(...args);
  });
  return { started: started.promise, release: () => open.resolve() };
}

/** Makes `fn` (remindProvider's mock) note the workflow's current details at the moment it is called. */
function noteDetailsAtReminder(fn: jest.Mock<Promise<ActivityResult<'remindProvider'>>, [ActivityInput<'remindProvider'>]>, workflowId: string) {
  const noted = { details: '' };
  const run = fn.getMockImplementation()!;
  fn.mockImplementation(async (arg) => {
    noted.details = await detailsOf(t.client.workflow.getHandle(workflowId));
    return run(arg);
  });
  return noted;
}

/** An Update's refusal: its failure type (ProviderNotPending for a decision that may not be made). */
async function refusalOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as ApplicationFailure | undefined)?.type ?? undefined;
}

let t: WorkflowTestEnv;

describe('provider onboarding workflow (mocked activities)', () => {
  beforeAll(async () => {
    t = await startWorkflowEnv({
      main: ['providerOnboardingPosition', 'approveProvider', 'rejectProvider', 'expireProvider', 'remindProvider', 'recordPayoutReady'],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Started as src/bookings/providers.ts starts it: ProviderId and Status (pending) set by the starter. */
  async function start(input: ProviderOnboardingInput, m: ActivityMocks): Promise<Handle> {
    const workflowId = providerWorkflowId(input.providerId);
    t.mock(workflowId, m);
    return t.client.workflow.start<ProviderOnboardingWorkflow>(PROVIDER_ONBOARDING_WORKFLOW, {
      workflowId,
      taskQueue: t.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: ProviderId, value: input.providerId },
        { key: Status, value: 'pending' },
      ],
    });
  }

  /** Waits until the workflow has read its row (a decision sent before that waits for it). */
  const loaded = (h: Handle) => eventually(() => t.callNames(h.workflowId).includes('providerOnboardingPosition'), 10_000, 'the row read');

  it('approval then payout details: active at once (Status, details), and the workflow ends when the payout is ready', async () => {
    const input = onboardingInput();
    const m = mocks();
    const h = await start(input, m);
    await loaded(h);
    expect(t.call(h.workflowId, 'providerOnboardingPosition').input).toEqual({
      providerId: input.providerId,
      startedAt: (await h.describe()).startTime.toISOString(),
      graceMs: 5_000,
    });
    await eventually(async () => (await detailsOf(h)).includes('**Waiting for:** operator review, payout details'));
    expect(await statusOf(h)).toBe('pending');

    await expect(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-1' }] })).resolves.toEqual({ status: 'active', payoutReady: false, decidedBy: 'op-1' });
    expect(m.approveProvider).toHaveBeenCalledWith({ providerId: input.providerId, operatorId: 'op-1' });
    // Active and bookable now; still waiting for the payout details, with no timer that could expire it.
    expect(await statusOf(h)).toBe('active');
    const details = await detailsOf(h);
    expect(details).toContain('**Status:** active (decided by operator op-1)');
    expect(details).toContain('**Payout details:** missing');
    expect(details).toContain('**Waiting for:** payout details');
    expect((await h.describe()).status.name).toBe('RUNNING');

    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_1' });
    await expect(h.result()).resolves.toEqual({ status: 'active' });
    expect(m.recordPayoutReady).toHaveBeenCalledTimes(1);
    expect(m.recordPayoutReady).toHaveBeenCalledWith({ providerId: input.providerId, accountId: 'acct_1' });
    expect(t.callNames(h.workflowId)).toEqual(['providerOnboardingPosition', 'approveProvider', 'recordPayoutReady']);
    expect(await statusOf(h)).toBe('active');
    expect(await detailsOf(h)).toContain('**Waiting for:** nothing');
    expect(m.remindProvider).not.toHaveBeenCalled();
    expect(m.expireProvider).not.toHaveBeenCalled();
  });

  it('payout details first, then approval: stays pending until the decision, then ends active; a repeated payout report is not recorded twice', async () => {
    const input = onboardingInput();
    const m = mocks();
    const h = await start(input, m);
    await loaded(h);

    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_2' });
    await eventually(() => m.recordPayoutReady.mock.calls.length === 1);
    await eventually(async () => (await h.query(providerOnboardingStateQuery)).payoutReady);
    expect(await h.query(providerOnboardingStateQuery)).toEqual({ status: 'pending', payoutReady: true });
    expect(await statusOf(h)).toBe('pending');
    expect(await detailsOf(h)).toContain('**Waiting for:** operator review');
    expect(await detailsOf(h)).toContain('**Payout details:** ready');

    // The gateway reports the account again: already ready, nothing to record.
    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_2' });
    await expect(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-2' }] })).resolves.toEqual({ status: 'active', payoutReady: true, decidedBy: 'op-2' });
    await expect(h.result()).resolves.toEqual({ status: 'active' });
    expect(t.callNames(h.workflowId)).toEqual(['providerOnboardingPosition', 'recordPayoutReady', 'approveProvider']);
    expect(await statusOf(h)).toBe('active');
  });

  it('a row already active with payout details ready (a replacement run) ends at once', async () => {
    const input = onboardingInput();
    const m = mocks({}, pos('active', true));
    const h = await start(input, m);
    await expect(h.result()).resolves.toEqual({ status: 'active' });
    expect(t.callNames(h.workflowId)).toEqual(['providerOnboardingPosition']);
    expect(await statusOf(h)).toBe('active');
  });

  it('rejection (with its reason) ends the onboarding rejected, payout details or not', async () => {
    const input = onboardingInput();
    const m = mocks();
    const h = await start(input, m);
    await loaded(h);

    await expect(h.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: 'op-3', reason: 'no licence on file' }] })).resolves.toEqual({
      status: 'rejected',
      payoutReady: false,
      decidedBy: 'op-3',
      reason: 'no licence on file',
    });
    await expect(h.result()).resolves.toEqual({ status: 'rejected' });
    expect(m.rejectProvider).toHaveBeenCalledWith({ providerId: input.providerId, operatorId: 'op-3', reason: 'no licence on file' });
    expect(t.callNames(h.workflowId)).toEqual(['providerOnboardingPosition', 'rejectProvider']);
    expect(await statusOf(h)).toBe('rejected');
    const details = await detailsOf(h);
    expect(details).toContain('**Status:** rejected (decided by operator op-3); reason: no licence on file');
    expect(details).toContain('**Waiting for:** nothing');
  });

  it('a rejection without a reason passes none to the activity', async () => {
    const input = onboardingInput();
    const m = mocks();
    const h = await start(input, m);
    await loaded(h);
    await expect(h.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: 'op-4' }] })).resolves.toEqual({ status: 'rejected', payoutReady: false, decidedBy: 'op-4' });
    await expect(h.result()).resolves.toEqual({ status: 'rejected' });
    expect(m.rejectProvider.mock.calls[0]![0]).toEqual({ providerId: input.providerId, operatorId: 'op-4' });
  });

  it('a second decision is refused (ProviderNotPending) once the provider is active, and changes nothing', async () => {
    const input = onboardingInput();
    const m = mocks();
    const h = await start(input, m);
    await loaded(h);
    await h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-5' }] });

    expect(await refusalOf(h.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: 'op-6', reason: 'changed my mind' }] }))).toBe(PROVIDER_NOT_PENDING);
    expect(await refusalOf(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-6' }] }))).toBe(PROVIDER_NOT_PENDING);
    expect(m.rejectProvider).not.toHaveBeenCalled();
    expect(m.approveProvider).toHaveBeenCalledTimes(1);
    expect(await h.query(providerOnboardingStateQuery)).toEqual({ status: 'active', payoutReady: false, decidedBy: 'op-5' });

    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_5' });
    await expect(h.result()).resolves.toEqual({ status: 'active' });
  });

  it('two decisions at once: exactly one is made, the other refused ProviderNotPending', async () => {
    const input = onboardingInput();
    const m = mocks();
    const approving = gate(m.approveProvider);
    const h = await start(input, m);
    await loaded(h);

    const first = h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-7' }] });
    await approving.started;
    // While the approval's step runs, a rejection is refused by the validator ("being decided").
    const second = h.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: 'op-8' }] });
    expect(await refusalOf(second)).toBe(PROVIDER_NOT_PENDING);
    approving.release();
    await expect(first).resolves.toMatchObject({ status: 'active', decidedBy: 'op-7' });
    expect(m.rejectProvider).not.toHaveBeenCalled();

    // Sent together, both past their validators before either runs: the handler lets one through.
    const input2 = onboardingInput();
    const m2 = mocks();
    const h2 = await start(input2, m2);
    await loaded(h2);
    const results = await Promise.allSettled([
      h2.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-9' }] }),
      h2.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: 'op-10' }] }),
    ]);
    const made = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(made).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((refused[0]!.reason as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(PROVIDER_NOT_PENDING);
    expect(m2.approveProvider.mock.calls.length + m2.rejectProvider.mock.calls.length).toBe(1);

    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_7' });
    await expect(h.result()).resolves.toEqual({ status: 'active' });
    // Approved, it still waits for its payout details; rejected, it has ended.
    const approved = m2.approveProvider.mock.calls.length === 1;
    if (approved) await h2.signal(payoutDetailsReadySignal, { accountId: 'acct_9' });
    await expect(h2.result()).resolves.toEqual({ status: approved ? 'active' : 'rejected' });
  });

  it('a decision the row no longer takes (decided elsewhere meanwhile) is refused, and the workflow follows the row', async () => {
    const input = onboardingInput();
    // The row was rejected by another path just before this approval's conditional change.
    const m = mocks({ approveProvider: async () => pos('rejected') });
    const h = await start(input, m);
    await loaded(h);

    expect(await refusalOf(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-11' }] }))).toBe(PROVIDER_NOT_PENDING);
    await expect(h.result()).resolves.toEqual({ status: 'rejected' });
    expect(await statusOf(h)).toBe('rejected');
  });

  it('an undecided onboarding expires at its expiry (after one reminder naming both missing steps); decisions during and after the expiry are refused', async () => {
    const input = onboardingInput({ reminderMs: 300, expiryMs: 1_500 });
    const m = mocks();
    const expiring = gate(m.expireProvider);
    const atReminder = noteDetailsAtReminder(m.remindProvider, providerWorkflowId(input.providerId));
    const h = await start(input, m);
    const startedAt = (await h.describe()).startTime.getTime();

    await expiring.started;
    // While the expiry's step runs, a decision is refused.
    expect(await refusalOf(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-12' }] }))).toBe(PROVIDER_NOT_PENDING);
    expiring.release();
    await expect(h.result()).resolves.toEqual({ status: 'expired' });

    expect(t.callNames(h.workflowId)).toEqual(['providerOnboardingPosition', 'remindProvider', 'expireProvider']);
    expect(m.remindProvider).toHaveBeenCalledWith({ providerId: input.providerId });
    expect(m.expireProvider).toHaveBeenCalledWith({ providerId: input.providerId });
    expect(t.call(h.workflowId, 'remindProvider').at).toBeGreaterThanOrEqual(startedAt + 300);
    expect(t.call(h.workflowId, 'expireProvider').at).toBeGreaterThanOrEqual(startedAt + 1_500);
    // When the reminder went out, the workflow named both things missing.
    expect(atReminder.details).toContain('**Waiting for:** operator review, payout details');
    expect(m.approveProvider).not.toHaveBeenCalled();
    expect(await statusOf(h)).toBe('expired');
    const details = await detailsOf(h);
    expect(details).toContain('**Status:** expired');
    expect(details).toContain('**Reminder:** sent');

    // After the expiry the workflow is gone: a late decision reaches nothing.
    await expect(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-13' }] })).rejects.toThrow();
    expect(m.approveProvider).not.toHaveBeenCalled();
  });

  it('the reminder fires once, naming only what is still missing; an approved provider never expires', async () => {
    const input = onboardingInput({ reminderMs: 1_500, expiryMs: 2_000 });
    const m = mocks();
    const atReminder = noteDetailsAtReminder(m.remindProvider, providerWorkflowId(input.providerId));
    const h = await start(input, m);
    await loaded(h);
    await h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-14' }] });

    await eventually(() => atReminder.details !== '', 10_000, 'the reminder');
    expect(atReminder.details).toContain('**Waiting for:** payout details');
    expect(atReminder.details).not.toContain('operator review');
    await eventually(async () => (await detailsOf(h)).includes('**Reminder:** sent'));

    // Well past the expiry: no expiry (the provider was decided) and no second reminder.
    await pause(1_500);
    expect(m.expireProvider).not.toHaveBeenCalled();
    expect(m.remindProvider).toHaveBeenCalledTimes(1);
    expect((await h.describe()).status.name).toBe('RUNNING');

    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_14' });
    await expect(h.result()).resolves.toEqual({ status: 'active' });
    expect(t.callNames(h.workflowId)).toEqual(['providerOnboardingPosition', 'approveProvider', 'remindProvider', 'recordPayoutReady']);
  });

  it('no reminder when nothing is missing by then: decided and paid before the reminder, the workflow has ended', async () => {
    const input = onboardingInput({ reminderMs: 3_000, expiryMs: 4_000 });
    const m = mocks();
    const h = await start(input, m);
    await loaded(h);
    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_15' });
    await eventually(() => m.recordPayoutReady.mock.calls.length === 1);
    await h.executeUpdate(rejectProviderUpdate, { args: [{ operatorId: 'op-15' }] });
    await expect(h.result()).resolves.toEqual({ status: 'rejected' });
    expect(m.remindProvider).not.toHaveBeenCalled();
    expect(m.expireProvider).not.toHaveBeenCalled();
  });

  it('a row that never committed: retried until the grace, then ProviderNotFound ends it expired; a decision waiting for the row is refused', async () => {
    const input = onboardingInput({ rowGraceMs: 1_000 });
    const startedAtRef: { at?: number } = {};
    const m = mocks({
      providerOnboardingPosition: jest.fn(async (arg: ActivityInput<'providerOnboardingPosition'>): Promise<Position> => {
        startedAtRef.at = Date.parse(arg.startedAt);
        // As the real activity: "not committed yet" (retryable) within the grace, then ProviderNotFound.
        if (Date.now() - Date.parse(arg.startedAt) < arg.graceMs) throw ApplicationFailure.retryable('not committed yet', 'ProviderNotCommitted');
        throw ApplicationFailure.nonRetryable('still missing: its onboarding rolled back', PROVIDER_NOT_FOUND);
      }),
    });
    const h = await start(input, m);
    await eventually(() => t.calls(h.workflowId).length >= 1);

    // Accepted (the row is not read yet), then refused once the workflow knows there is no provider.
    const decision = h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-16' }] });
    expect(await refusalOf(decision)).toBe(PROVIDER_NOT_PENDING);
    await expect(h.result()).resolves.toEqual({ status: 'expired' });

    const calls = t.calls(h.workflowId);
    expect(calls.every((c) => c.name === 'providerOnboardingPosition')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.map((c) => c.attempt)).toEqual(calls.map((_, i) => i + 1));
    expect(calls[calls.length - 1]!.at).toBeGreaterThanOrEqual(startedAtRef.at! + 1_000);
    expect(m.approveProvider).not.toHaveBeenCalled();
    expect(await statusOf(h)).toBe('expired');
    expect(await detailsOf(h)).toBe('No provider row: the onboarding request rolled back.');
  });

  it('any other failure reading the row fails the workflow (never taken for a missing provider)', async () => {
    const input = onboardingInput();
    const m = mocks({
      providerOnboardingPosition: async () => {
        throw ApplicationFailure.nonRetryable('permission denied for table providers', 'DatabaseError');
      },
    });
    const h = await start(input, m);
    const err = await h.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as { cause?: ApplicationFailure }).cause?.type).toBe('DatabaseError');
  });

  it('retried steps are given the same inputs (their conditional row changes do nothing twice)', async () => {
    const input = onboardingInput();
    const m = mocks();
    const approve = m.approveProvider.getMockImplementation()!;
    let approveAttempts = 0;
    m.approveProvider.mockImplementation(async (arg) => {
      // The first attempt changes the row, then its answer is lost (a timeout): the retry finds it active.
      const answer = await approve(arg);
      if (++approveAttempts === 1) throw ApplicationFailure.retryable('connection reset', 'Error');
      return answer;
    });
    const record = m.recordPayoutReady.getMockImplementation()!;
    let recordAttempts = 0;
    m.recordPayoutReady.mockImplementation(async (arg) => {
      if (++recordAttempts === 1) throw ApplicationFailure.retryable('connection reset', 'Error');
      return record(arg);
    });
    const h = await start(input, m);
    await loaded(h);

    await expect(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-17' }] })).resolves.toEqual({ status: 'active', payoutReady: false, decidedBy: 'op-17' });
    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_17' });
    await expect(h.result()).resolves.toEqual({ status: 'active' });

    const calls = t.calls(h.workflowId);
    const approves = calls.filter((c) => c.name === 'approveProvider');
    expect(approves.map((c) => c.attempt)).toEqual([1, 2]);
    expect(approves.map((c) => c.input)).toEqual([
      { providerId: input.providerId, operatorId: 'op-17' },
      { providerId: input.providerId, operatorId: 'op-17' },
    ]);
    const records = calls.filter((c) => c.name === 'recordPayoutReady');
    expect(records.map((c) => c.attempt)).toEqual([1, 2]);
    expect(records.map((c) => c.input)).toEqual([
      { providerId: input.providerId, accountId: 'acct_17' },
      { providerId: input.providerId, accountId: 'acct_17' },
    ]);
    // One logical step each: the workflow scheduled each activity once.
    expect(new Set(approves.map((c) => c.runId)).size).toBe(1);
    expect(calls.map((c) => c.name)).toEqual(['providerOnboardingPosition', 'approveProvider', 'approveProvider', 'recordPayoutReady', 'recordPayoutReady']);
  });

  it('an older position answered after a newer one does not take the status back to pending', async () => {
    const input = { ...onboardingInput(), reminderMs: 60_000, expiryMs: 120_000 };
    const workflowId = providerWorkflowId(input.providerId);
    // recordPayoutReady's UPDATE commits first (RETURNING pending, ready), then the approval commits
    // (active, ready); but the approval's completion reaches the workflow first.
    const m = mocks({
      recordPayoutReady: jest.fn(async () => pos('pending', true)),
      approveProvider: jest.fn(async () => pos('active', true)),
    });
    const recording = gate(m.recordPayoutReady);
    t.mock(workflowId, m);
    const h = await t.client.workflow.start<ProviderOnboardingWorkflow>(PROVIDER_ONBOARDING_WORKFLOW, { workflowId, taskQueue: t.taskQueue, args: [input] });
    await eventually(() => t.callNames(workflowId).includes('providerOnboardingPosition'));
    await h.signal(payoutDetailsReadySignal, { accountId: 'acct_race' });
    await recording.started;
    await expect(h.executeUpdate(approveProviderUpdate, { args: [{ operatorId: 'op-race' }] })).resolves.toMatchObject({ status: 'active', payoutReady: true });
    recording.release();

    // The row is active with payout details ready: the onboarding is over.
    await eventually(async () => (await h.describe()).status.name !== 'RUNNING', 5_000, 'the workflow to end');
    expect(await h.query(providerOnboardingStateQuery)).toMatchObject({ status: 'active', payoutReady: true });
    expect((await h.describe()).typedSearchAttributes.get(Status)).toBe('active');
    expect((await h.describe()).status.name).toBe('COMPLETED');
  });
});
