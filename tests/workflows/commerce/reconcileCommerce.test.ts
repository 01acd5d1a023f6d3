import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { RECONCILE_COMMERCE_WORKFLOW, type ReconcileCommerceWorkflow, type ReconcileScope } from '../../../src/commerce/contract';
import { type ActivityInput, startWorkflowEnv, uniqueId, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/** The `commerce-reconcile` schedule's workflow with its three repairs mocked: their order, scope and totals. */

const reconcileId = (id: string) => `reconcile-test:${id}`;

function mocks() {
  return {
    voidOrphanedAuthorizations: jest.fn(async (_?: ActivityInput<'voidOrphanedAuthorizations'>) => 1),
    releaseStaleReservations: jest.fn(async (_?: ActivityInput<'releaseStaleReservations'>) => 4),
    correctHotCounters: jest.fn(async (_?: ActivityInput<'correctHotCounters'>) => 2),
  };
}

describe('reconcileCommerce workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['voidOrphanedAuthorizations', 'releaseStaleReservations', 'correctHotCounters'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('voids orphaned authorizations, then releases stale reservations, then corrects hot counters, all within the scope', async () => {
    const workflowId = uniqueId(reconcileId);
    const scope: ReconcileScope = { storeId: 'store-1', paymentKeyPrefix: 'checkout:abc' };
    const m = mocks();
    const handle = await t.start<ReconcileCommerceWorkflow>(RECONCILE_COMMERCE_WORKFLOW, { workflowId, args: [scope], mocks: m });

    await expect(handle.result()).resolves.toEqual({ authorizationsVoided: 1, reservationsReleased: 4, countersCorrected: 2 });
    expect(t.callNames(workflowId)).toEqual(['voidOrphanedAuthorizations', 'releaseStaleReservations', 'correctHotCounters']);
    for (const c of t.calls(workflowId)) expect(c.input).toEqual(scope);
  });

  it('the schedule passes nothing: every repair sweeps everything (an empty scope)', async () => {
    const workflowId = uniqueId(reconcileId);
    const m = mocks();
    const handle = await t.start<ReconcileCommerceWorkflow>(RECONCILE_COMMERCE_WORKFLOW, { workflowId, args: [], mocks: m });

    await expect(handle.result()).resolves.toEqual({ authorizationsVoided: 1, reservationsReleased: 4, countersCorrected: 2 });
    for (const c of t.calls(workflowId)) expect(c.input).toEqual({});
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
  });
});
