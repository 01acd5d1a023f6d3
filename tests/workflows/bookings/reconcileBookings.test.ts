import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { RECONCILE_BOOKINGS_WORKFLOW } from '../../../src/bookings/reconciliation';
import { startWorkflowEnv, uniqueId, type WorkflowTestEnv } from '../../helpers/workflowEnv';

/** The `bookings-reconcile` schedule's workflow with its three repairs mocked: their order, queues and totals. */

const reconcileId = (id: string) => `reconcile-bookings-test:${id}`;

function mocks() {
  return {
    releaseStaleBookingHolds: jest.fn(async () => 2),
    voidOrphanedBookingAuthorizations: jest.fn(async () => 3),
    settleUnsettledBookingMoney: jest.fn(async () => 1),
  };
}

describe('reconcileBookings workflow (mocked activities)', () => {
  let t: WorkflowTestEnv;
  beforeAll(async () => {
    t = await startWorkflowEnv({ main: ['releaseStaleBookingHolds'], payments: ['voidOrphanedBookingAuthorizations', 'settleUnsettledBookingMoney'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('releases stale holds first (their authorizations become orphans for the void), then voids and settles on the payments queue', async () => {
    const workflowId = uniqueId(reconcileId);
    const handle = await t.start(RECONCILE_BOOKINGS_WORKFLOW, { workflowId, args: [], mocks: mocks() });

    await expect(handle.result()).resolves.toEqual({ holdsReleased: 2, authorizationsVoided: 3, moneySettled: 1 });
    expect(t.calls(workflowId).map((c) => [c.name, c.taskQueue])).toEqual([
      ['releaseStaleBookingHolds', t.taskQueue],
      ['voidOrphanedBookingAuthorizations', t.paymentsTaskQueue],
      ['settleUnsettledBookingMoney', t.paymentsTaskQueue],
    ]);
  });

  it('a repair that fails for good stops the run before the later ones', async () => {
    const workflowId = uniqueId(reconcileId);
    const m = mocks();
    m.voidOrphanedBookingAuthorizations.mockImplementation(async () => {
      throw ApplicationFailure.nonRetryable('payment provider unreachable', 'Unavailable');
    });
    const handle = await t.start(RECONCILE_BOOKINGS_WORKFLOW, { workflowId, args: [], mocks: m });

    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ActivityFailure).cause).toMatchObject({ type: 'Unavailable' });
    expect(t.callNames(workflowId)).toEqual(['releaseStaleBookingHolds', 'voidOrphanedBookingAuthorizations']);
    expect(m.settleUnsettledBookingMoney).not.toHaveBeenCalled();
  });
});
