import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities, PaymentQueueActivities } from '../../activities';
import type { ReconcileBookingsResult } from '../../bookings/reconciliation';
import { paymentsTaskQueue } from '../../temporal/taskQueues';

const { releaseStaleBookingHolds } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 5 },
});

/**
 * Started by the `bookings-reconcile` Temporal Schedule (every RECONCILE_INTERVAL): what a lost `booking:<id>`
 * workflow or a crashed request left undone, older than RECONCILE_GRACE. Each step is idempotent and takes at
 * most one batch per run (the next run takes the rest).
 */
export async function reconcileBookings(): Promise<ReconcileBookingsResult> {
  const { voidOrphanedBookingAuthorizations, settleUnsettledBookingMoney } = proxyActivities<PaymentQueueActivities>({
    taskQueue: paymentsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 5 },
  });
  // Holds first: a hold released now frees its authorization for the void below, in the same run.
  const holdsReleased = await releaseStaleBookingHolds();
  const authorizationsVoided = await voidOrphanedBookingAuthorizations();
  const moneySettled = await settleUnsettledBookingMoney();
  setCurrentDetails(`Released ${holdsReleased} stale holds, voided ${authorizationsVoided} orphaned authorizations, settled ${moneySettled} bookings' money`);
  return { holdsReleased, authorizationsVoided, moneySettled };
}
