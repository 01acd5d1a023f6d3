import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { RECONCILE_COMMERCE_WORKFLOW, type ReconcileCommerceWorkflow, type ReconcileScope } from '../../../src/commerce/contract';
import { type ActivityInput, startWorkflowEnv, uniqueId, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/** The `commerce-reconcile` schedule's workflow with its five repairs mocked: their order, scope and totals. */

const reconcileId = (id: string) => `reconcile-test:${id}`;

function mocks() {
  return {
    voidOrphanedAuthorizations: jest.fn(async (_?: ActivityInput<'voidOrphanedAuthorizations'>) => 1),
    releaseStaleReservations: jest.fn(async (_?: ActivityInput<'releaseStaleReservations'>) => 4),
    startMissingHoldSweepers: jest.fn(async () => 3),
    correctHotCounters: jest.fn(async (_?: ActivityInput<'correctHotCounters'>) => 2),
    recordMissingOrderCharges: jest.fn(async (_?: ActivityInput<'recordMissingOrderCharges'>) => 5),
  };
}

describe('reconcileCommerce workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['voidOrphanedAuthorizations', 'releaseStaleReservations', 'startMissingHoldSweepers', 'correctHotCounters', 'recordMissingOrderCharges'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('voids orphaned authorizations, releases stale reservations, starts missing hold sweepers, corrects hot counters, then records missing order charges, within the scope', async () => {
    const workflowId = uniqueId(reconcileId);
    const scope: ReconcileScope = { storeId: 'store-1', paymentKeyPrefix: 'checkout:abc' };
    const m = mocks();
    const handle = await t.start<ReconcileCommerceWorkflow>(RECONCILE_COMMERCE_WORKFLOW, { workflowId, args: [scope], mocks: m });

    await expect(handle.result()).resolves.toEqual({ authorizationsVoided: 1, reservationsReleased: 4, sweepersStarted: 3, countersCorrected: 2, chargesRecorded: 5 });
    expect(t.callNames(workflowId)).toEqual(['voidOrphanedAuthorizations', 'releaseStaleReservations', 'startMissingHoldSweepers', 'correctHotCounters', 'recordMissingOrderCharges']);
    // The sweepers are the deployment's, not a store's: that step takes no scope.
    for (const c of t.calls(workflowId)) expect(c.input).toEqual(c.name === 'startMissingHoldSweepers' ? undefined : scope);
  });

  it('the schedule passes nothing: every repair sweeps everything (an empty scope)', async () => {
    const workflowId = uniqueId(reconcileId);
    const m = mocks();
    const handle = await t.start<ReconcileCommerceWorkflow>(RECONCILE_COMMERCE_WORKFLOW, { workflowId, args: [], mocks: m });

    await expect(handle.result()).resolves.toEqual({ authorizationsVoided: 1, reservationsReleased: 4, sweepersStarted: 3, countersCorrected: 2, chargesRecorded: 5 });
    for (const c of t.calls(workflowId)) expect(c.input).toEqual(c.name === 'startMissingHoldSweepers' ? undefined : {});
  });

  it('a repair that fails for good stops the run before the later ones', async () => {
    const workflowId = uniqueId(reconcileId);
    const m = mocks();
    m.releaseStaleReservations.mockImplementation(async () => {
      throw ApplicationFailure.nonRetryable('temporal unreachable', 'Unavailable');
    });
    const handle = await t.start<ReconcileCommerceWorkflow>(RECONCILE_COMMERCE_WORKFLOW, { workflowId, args: [], mocks: m });

    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ActivityFailure).cause).toMatchObject({ type: 'Unavailable' });
    expect(t.callNames(workflowId)).toEqual(['voidOrphanedAuthorizations', 'releaseStaleReservations']);
    expect(m.correctHotCounters).not.toHaveBeenCalled();
    expect(m.recordMissingOrderCharges).not.toHaveBeenCalled();
  });
});
