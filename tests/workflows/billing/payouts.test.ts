import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import {
  PAYOUT_RUN_WORKFLOW,
  PAYOUTS_WORKFLOW,
  payoutRequestedSignal,
  payoutsWorkflowId,
  type PayoutOutcome,
  type PayoutPlan,
  type SellerPayoutsInput,
} from '../../../src/billing/contract';
import { Status } from '../../../src/temporal/searchAttributes';
import { eventually } from '../../helpers/wait';
import { deferred, historyEventTypes, startWorkflowEnv, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/**
 * payoutRun and payouts:<seller> with their activities mocked: the run's paging (cursor passed on, the run key
 * in every page), and a seller's workflow serving each run key once in order (a repeated signal ignored), its
 * transfers on the payments queue with the configured timeout, the Status search attribute per outcome, an outage
 * that outlasts the retries leaving the payout for the next run, and continue-as-new carrying waiting runs.
 */

const paid = (payoutId: string, amountCents = 1_000): PayoutOutcome => ({ payoutId, status: 'paid', amountCents, currency: 'EUR' });
const plan = (payoutIds: string[]): PayoutPlan => ({ outcome: payoutIds.length ? 'payouts' : 'nothing_due', payoutIds });

describe('payout workflows (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['payoutRunPage', 'prepareSellerPayouts'], payments: ['sendSellerPayout'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const sellerInput = (over: Partial<SellerPayoutsInput> = {}): SellerPayoutsInput => ({ sellerUserId: randomUUID(), transferTimeoutMs: 7_000, ...over });

  it('payoutRun pages through the due sellers with one run key, passing the cursor on', async () => {
    const workflowId = `payout-run-test:${randomUUID()}`;
    const pages = [
      { sellers: 2, next: 'b' },
      { sellers: 2, next: 'd' },
      { sellers: 1, next: null },
    ];
    const payoutRunPage = jest.fn(async (_: { runKey: string; after: string | null; limit: number }) => pages.shift()!);
    const handle = await t.start(PAYOUT_RUN_WORKFLOW, { workflowId, args: [{ pageSize: 2, runKey: 'run-x' }], mocks: { payoutRunPage } });
    await expect(handle.result()).resolves.toEqual({ runKey: 'run-x', sellers: 5 });
    expect(payoutRunPage.mock.calls.map(([i]) => i)).toEqual([
      { runKey: 'run-x', after: null, limit: 2 },
      { runKey: 'run-x', after: 'b', limit: 2 },
      { runKey: 'run-x', after: 'd', limit: 2 },
    ]);
  });

  it('a run without a key is keyed by its first run id', async () => {
    const workflowId = `payout-run-test:${randomUUID()}`;
    const payoutRunPage = jest.fn(async () => ({ sellers: 0, next: null }));
    const handle = await t.start(PAYOUT_RUN_WORKFLOW, { workflowId, args: [{ sellerUserIds: ['s1'] }], mocks: { payoutRunPage } });
    await expect(handle.result()).resolves.toEqual({ runKey: `run-${handle.firstExecutionRunId}`, sellers: 0 });
    expect(payoutRunPage).toHaveBeenCalledWith({ runKey: `run-${handle.firstExecutionRunId}`, after: null, limit: 100, sellerUserIds: ['s1'] });
  });

  it('serves each run key once, in order; transfers on the payments queue with the configured timeout; Status follows the outcome', async () => {
    const input = sellerInput({ pending: ['run-1'] });
    const firstPrepared = deferred<PayoutPlan>();
    const prepareSellerPayouts = jest.fn(async ({ runKey }: { runKey: string }) => (runKey === 'run-1' ? firstPrepared.promise : plan([])));
    const sendSellerPayout = jest.fn(async ({ payoutId }: { payoutId: string }) => paid(payoutId));
    const handle = await t.start(PAYOUTS_WORKFLOW, { workflowId: payoutsWorkflowId(input.sellerUserId), args: [input], mocks: { prepareSellerPayouts, sendSellerPayout } });

    await eventually(() => prepareSellerPayouts.mock.calls.length === 1, 10_000, 'run-1 prepared');
    await handle.signal(payoutRequestedSignal, { runKey: 'run-2' });
    await handle.signal(payoutRequestedSignal, { runKey: 'run-1' });
    await handle.signal(payoutRequestedSignal, { runKey: 'run-2' });
    firstPrepared.resolve(plan(['p1', 'p2']));

    await expect(handle.result()).resolves.toEqual({ runs: ['run-1', 'run-2'] });
    const id = payoutsWorkflowId(input.sellerUserId);
    expect(t.calls(id).map((c) => [c.name, c.taskQueue])).toEqual([
      ['prepareSellerPayouts', t.taskQueue],
      ['sendSellerPayout', t.paymentsTaskQueue],
      ['sendSellerPayout', t.paymentsTaskQueue],
      ['prepareSellerPayouts', t.taskQueue],
    ]);
    expect(t.call(id, 'sendSellerPayout').startToCloseTimeoutMs).toBe(7_000);
    expect(prepareSellerPayouts.mock.calls.map(([i]) => i)).toEqual([
      { sellerUserId: input.sellerUserId, runKey: 'run-1' },
      { sellerUserId: input.sellerUserId, runKey: 'run-2' },
    ]);
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe('nothing_due');
  });

  it.each([
    ['paid', plan(['p1']), async ({ payoutId }: { payoutId: string }) => paid(payoutId)],
    ['failed', plan(['p1']), async ({ payoutId }: { payoutId: string }): Promise<PayoutOutcome> => ({ payoutId, status: 'failed', amountCents: 500, currency: 'EUR', failureCode: 'account_closed' })],
    ['waiting_for_account', { outcome: 'no_account', payoutIds: [] } as PayoutPlan, async ({ payoutId }: { payoutId: string }) => paid(payoutId)],
  ])('Status is %s after such a run', async (expected, answer, send) => {
    const input = sellerInput({ pending: ['run-1'] });
    const handle = await t.start(PAYOUTS_WORKFLOW, {
      workflowId: payoutsWorkflowId(input.sellerUserId),
      args: [input],
      mocks: { prepareSellerPayouts: async () => answer, sendSellerPayout: send },
    });
    await handle.result();
    expect((await handle.describe()).typedSearchAttributes.get(Status)).toBe(expected);
  });

  it('an outage outlasting the retries does not fail the workflow: the payout stays for the next run, the other one is still sent', async () => {
    const input = sellerInput({ pending: ['run-1'] });
    const sendSellerPayout = jest.fn(async ({ payoutId }: { payoutId: string }) => {
      if (payoutId === 'p1') throw ApplicationFailure.nonRetryable('provider unreachable (retries exhausted)', 'Unavailable');
      return paid(payoutId);
    });
    const handle = await t.start(PAYOUTS_WORKFLOW, {
      workflowId: payoutsWorkflowId(input.sellerUserId),
      args: [input],
      mocks: { prepareSellerPayouts: async () => plan(['p1', 'p2']), sendSellerPayout },
    });
    await expect(handle.result()).resolves.toEqual({ runs: ['run-1'] });
    expect(sendSellerPayout.mock.calls.map(([i]) => i.payoutId)).toEqual(['p1', 'p2']);
    const d = await handle.describe();
    expect(d.typedSearchAttributes.get(Status)).toBe('failed');
  });

  it('continues as new while runs keep coming, carrying the waiting ones: every run served exactly once', async () => {
    const input = sellerInput();
    const id = payoutsWorkflowId(input.sellerUserId);
    const runKeys = Array.from({ length: 14 }, (_, i) => `run-${i}`);
    input.pending = [...runKeys];
    const prepareSellerPayouts = jest.fn(async (_: { sellerUserId: string; runKey: string }) => plan(['p']));
    const handle = await t.start(PAYOUTS_WORKFLOW, { workflowId: id, args: [input], mocks: { prepareSellerPayouts, sendSellerPayout: async ({ payoutId }) => paid(payoutId) } });
    await eventually(async () => (await t.client.workflow.getHandle(id).describe()).status.name === 'COMPLETED', 30_000, 'the last run done', 200);
    expect(prepareSellerPayouts.mock.calls.map(([i]) => i.runKey)).toEqual(runKeys);
    expect(await historyEventTypes(t.client, id, handle.firstExecutionRunId)).toContain('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
  });
});
