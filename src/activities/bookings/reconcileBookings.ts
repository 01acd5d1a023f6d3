import { createBookingReconciliation } from '../../bookings/reconciliation';
import { thisRun } from '../repairRun';
import type { ActivityDeps } from '../../workers/deps';

/**
 * The `reconcileBookings` workflow's steps, adapters over src/bookings/reconciliation.ts. Releasing stale holds
 * touches only Postgres and Redis (main task queue); voiding and settling reach the payment provider, so they are
 * served on the rate-limited payments task queue (createPaymentQueueActivities).
 */
export function createBookingReconciliationActivities(deps: ActivityDeps) {
  const reconciliation = createBookingReconciliation(deps);
  return {
    releaseStaleBookingHolds: () => reconciliation.releaseStaleHolds(thisRun()),
  };
}

export function createBookingReconciliationPaymentActivities(deps: ActivityDeps) {
  const reconciliation = createBookingReconciliation(deps);
  return {
    voidOrphanedBookingAuthorizations: () => reconciliation.voidOrphanedAuthorizations(thisRun()),
    settleUnsettledBookingMoney: () => reconciliation.settleUnsettledMoney(thisRun()),
  };
}
